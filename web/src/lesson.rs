//! Lessons opened by URL: a setup, a few short steps of text shown beside the study with
//! Back and Next, and the controls a class does not need hidden. A teacher writes one as a
//! small YAML or JSON file (README, "Lessons") and shares it as `#lesson=` followed by the
//! URL-encoded text; the shipped ones (`static/lessons/`) open as `#lesson=NAME`.

use std::rc::Rc;

use serde::Deserialize;

use crate::setup::Setup;

/// The shipped lessons: name, and its YAML.
pub const SHIPPED: [(&str, &str); 3] = [
    (
        "random-vs-tpe",
        include_str!("../../static/lessons/random-vs-tpe.yaml"),
    ),
    (
        "what-pruning-saves",
        include_str!("../../static/lessons/what-pruning-saves.yaml"),
    ),
    (
        "log-scale",
        include_str!("../../static/lessons/log-scale.yaml"),
    ),
];

/// The most steps a lesson has.
pub const MAX_STEPS: usize = 40;
/// The longest lesson text accepted (bytes).
pub const MAX_TEXT: usize = 64 * 1024;

/// A part of the page a lesson can hide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hide {
    /// Step 1: presets, data set, model, epochs, objective.
    Problem,
    /// Step 2: the search-space editor (and the YAML import).
    Space,
    /// Step 3: sampler, seed, pruner, trials, time limit, backend.
    Search,
    /// The selected trial's curves and decision boundary.
    Trial,
    /// The study plots and the best trial.
    Plots,
    /// The trials table.
    Table,
    /// The downloads.
    Downloads,
}

impl Hide {
    /// The class the page's root gets while it is hidden.
    pub fn class(self) -> &'static str {
        match self {
            Hide::Problem => "hide-problem",
            Hide::Space => "hide-space",
            Hide::Search => "hide-search",
            Hide::Trial => "hide-trial",
            Hide::Plots => "hide-plots",
            Hide::Table => "hide-table",
            Hide::Downloads => "hide-downloads",
        }
    }
}

/// One step: its text, and what it changes in the setup.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LessonStep {
    /// What the step says (plain text; blank lines separate paragraphs).
    pub text: String,
    /// Setup fields this step sets (as in a shared link's setup: `sampler: tpe`).
    #[serde(default)]
    pub setup: Option<serde_json::Map<String, serde_json::Value>>,
    /// The plot tab to show (`history`, `intermediate`, `parallel`, `slice`,
    /// `importance`, `contour`).
    #[serde(default)]
    pub tab: Option<String>,
}

/// A lesson, as its file says it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    /// Its title.
    pub title: String,
    /// The preset it starts from (`spiral-mlp` when absent).
    #[serde(default)]
    pub preset: Option<String>,
    /// Setup fields set over the preset.
    #[serde(default)]
    pub setup: Option<serde_json::Map<String, serde_json::Value>>,
    /// What the page hides while the lesson is open.
    #[serde(default)]
    pub hide: Vec<Hide>,
    /// The steps, at least one.
    pub steps: Vec<LessonStep>,
}

impl Lesson {
    /// Reads a lesson from YAML or JSON text, and checks that its setup and every step's
    /// changes make a valid setup. Errors name what and where.
    pub fn parse(text: &str) -> Result<Lesson, String> {
        if text.len() > MAX_TEXT {
            return Err(format!(
                "the lesson is {} bytes; at most {MAX_TEXT} are read",
                text.len()
            ));
        }
        let lesson: Lesson =
            serde_yaml_ng::from_str(text).map_err(|e| format!("the lesson: {e}"))?;
        if lesson.title.trim().is_empty() {
            return Err("the lesson has no title".into());
        }
        if lesson.steps.is_empty() {
            return Err("the lesson has no steps".into());
        }
        if lesson.steps.len() > MAX_STEPS {
            return Err(format!(
                "the lesson has {} steps; at most {MAX_STEPS}",
                lesson.steps.len()
            ));
        }
        let mut setup = lesson.start_setup()?;
        for (i, step) in lesson.steps.iter().enumerate() {
            if let Some(tab) = &step.tab
                && crate::text::plot_tab(tab).is_none()
            {
                return Err(format!(
                    "step {}: no plot tab \"{tab}\"; use {}",
                    i + 1,
                    crate::text::PLOT_TABS.map(|(id, _)| id).join(", ")
                ));
            }
            setup = step
                .apply(&setup)
                .map_err(|e| format!("step {}: {e}", i + 1))?;
        }
        Ok(lesson)
    }

    /// The setup the lesson starts from: its preset with its setup fields over it.
    pub fn start_setup(&self) -> Result<Setup, String> {
        let id = self.preset.as_deref().unwrap_or("spiral-mlp");
        if !crate::setup::PRESETS.iter().any(|p| p.id == id) {
            return Err(format!("no preset \"{id}\""));
        }
        patch(&Setup::preset(id), self.setup.as_ref())
    }

    /// The lesson with this name among [`SHIPPED`], or the lesson in `text` (what follows
    /// `#lesson=`, decoded).
    pub fn open(name_or_text: &str) -> Result<(String, Rc<Lesson>), String> {
        if let Some((name, text)) = SHIPPED.iter().find(|(n, _)| *n == name_or_text) {
            return Lesson::parse(text).map(|l| ((*name).to_string(), Rc::new(l)));
        }
        if !name_or_text.contains(':') {
            let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "no lesson \"{name_or_text}\"; the shipped ones are {}",
                names.join(", ")
            ));
        }
        Lesson::parse(name_or_text).map(|l| (String::new(), Rc::new(l)))
    }
}

impl LessonStep {
    /// `setup` with this step's changes.
    pub fn apply(&self, setup: &Setup) -> Result<Setup, String> {
        patch(setup, self.setup.as_ref())
    }
}

/// `setup` with `fields` set over it, read back as a setup (so a wrong name or value is an
/// error naming it).
fn patch(
    setup: &Setup,
    fields: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Setup, String> {
    let Some(fields) = fields else {
        return Ok(setup.clone());
    };
    let mut json = serde_json::to_value(setup).map_err(|e| e.to_string())?;
    if let serde_json::Value::Object(map) = &mut json {
        for (k, v) in fields {
            map.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value::<Setup>(json).map_err(|e| format!("setup: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lessons_read_and_each_step_makes_a_valid_setup() {
        for (name, text) in SHIPPED {
            let l = Lesson::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut s = l.start_setup().unwrap();
            assert!(s.problems().is_empty(), "{name}: {:?}", s.problems());
            for step in &l.steps {
                s = step.apply(&s).unwrap();
                assert!(s.problems().is_empty(), "{name}: {:?}", s.problems());
            }
            assert!(l.steps.len() >= 3, "{name}");
        }
        let (name, _) = Lesson::open("random-vs-tpe").unwrap();
        assert_eq!(name, "random-vs-tpe");
    }

    #[test]
    fn a_teachers_lesson_in_yaml_or_json() {
        let yaml = "title: Mine\npreset: xor-mlp\nsetup: {n_trials: 8}\nhide: [space]\nsteps:\n  - text: One\n  - text: Two\n    setup: {sampler: random}\n    tab: parallel\n";
        let (name, l) = Lesson::open(yaml).unwrap();
        assert_eq!(name, "");
        assert_eq!(l.hide, vec![Hide::Space]);
        let s = l.start_setup().unwrap();
        assert_eq!((s.preset.as_str(), s.n_trials), ("xor-mlp", 8));
        assert_eq!(l.steps[1].apply(&s).unwrap().sampler.id(), "random");
        let json = r#"{"title": "J", "steps": [{"text": "only"}]}"#;
        assert_eq!(Lesson::open(json).unwrap().1.steps.len(), 1);
    }

    #[test]
    fn a_malformed_lesson_is_an_error_that_says_what() {
        let cases = [
            ("nope", "no lesson \"nope\""),
            ("title: x\nsteps: []", "no steps"),
            (
                "title: x\nsteps: [{text: a, setup: {sampler: annealing}}]",
                "step 1",
            ),
            ("title: x\nsteps: [{text: a, tab: pie}]", "no plot tab"),
            ("title: x\npreset: nope\nsteps: [{text: a}]", "no preset"),
            (
                "title: x\nhide: [everything]\nsteps: [{text: a}]",
                "the lesson",
            ),
            ("title: x\nsteps: [{text: a}]\nextra: 1", "the lesson"),
            ("{title: [", "the lesson"),
        ];
        for (text, want) in cases {
            let e = Lesson::open(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let deep = format!(
            "title: x\nsteps: {}{}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(Lesson::open(&deep).is_err());
        let long = format!("title: x\nsteps: [{{text: \"{}\"}}]", "a".repeat(MAX_TEXT));
        assert!(Lesson::open(&long).unwrap_err().contains("at most"));
    }
}
