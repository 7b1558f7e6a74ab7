//! What the page says to people: the short explanations behind its ⓘ buttons, and the
//! plain quotes its messages use. Pure functions, tested natively.

use sweeplab_core::config::PrunerConfig;
use sweeplab_core::vocab::Objective;

use crate::setup::SamplerChoice;

/// `s` with programmer backticks turned into plain quotes: core and parser messages name
/// values as `` `lr` ``, which the page shows as “lr”. An unpaired backtick becomes a
/// straight quote.
pub fn plain_quotes(s: &str) -> String {
    let pairs = s.matches('`').count() / 2;
    let mut out = String::with_capacity(s.len() + 4);
    let mut seen = 0;
    for c in s.chars() {
        if c == '`' {
            out.push(if seen >= pairs * 2 {
                '"'
            } else if seen % 2 == 0 {
                '“'
            } else {
                '”'
            });
            seen += 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// What the sampler does, in one or two sentences for someone who has not tuned before.
pub fn sampler_info(s: SamplerChoice) -> &'static str {
    match s.id() {
        "tpe" | "tpe-optuna" => {
            "TPE (Tree-structured Parzen Estimator) learns from the trials so far: it splits \
             them into a good group and the rest, and proposes the values that look much more \
             like the good ones. The first trials are random, to have something to learn from."
        }
        "random" => {
            "Random search tries values drawn at random from each range. It learns nothing, \
             which makes it the baseline TPE has to beat."
        }
        _ => {
            "Grid search tries every combination of a few values per parameter, one after \
             another. Thorough for two or three parameters, too slow for more."
        }
    }
}

/// What the chosen TPE variant means for the user, first in plain words.
pub fn sampler_note(s: SamplerChoice) -> Option<&'static str> {
    match s.id() {
        "tpe" => Some(
            "Tuned to settle on good values sooner: it treats the best 20% of trials as \
             \"good\" (Optuna uses 10%) and weighs 48 candidates per trial instead of 24. On \
             benchmark problems it found better results than Optuna's defaults.",
        ),
        "tpe-optuna" => Some(
            "Exactly Optuna 5.0's TPESampler() defaults: with the same seed, the trials are \
             the ones Python Optuna would propose.",
        ),
        _ => None,
    }
}

/// What a pruner stops, and when.
pub fn pruner_info(p: &PrunerConfig) -> &'static str {
    match p {
        PrunerConfig::None => {
            "No pruning: every trial trains all its epochs. Pruning stops unpromising trials \
             early, so the same time buys more trials."
        }
        PrunerConfig::Median { .. } => {
            "Median: after each epoch, a trial whose value is worse than the median of the \
             earlier trials at the same epoch is stopped. The warm-up settings let the first \
             trials and epochs run before it judges."
        }
        PrunerConfig::Percentile { .. } => {
            "Percentile: like Median, but a trial must be within the best given percentile of \
             the earlier trials at the same epoch to go on (25 keeps only the best quarter)."
        }
        PrunerConfig::Hyperband { .. } => {
            "Hyperband: trials meet at checkpoints (rungs), and only the best third or so goes \
             on from each. Several brackets with different first checkpoints hedge against \
             judging too early."
        }
        PrunerConfig::SuccessiveHalving { .. } => {
            "Successive halving: at each checkpoint (rung) only the best fraction of the trials \
             that reached it goes on; the rest are stopped."
        }
    }
}

/// What the objective is.
pub fn objective_info(o: Objective) -> &'static str {
    match o {
        Objective::ValLoss => {
            "The number the search tries to make as small as possible: the loss on validation \
             data the model never trains on, after the trial's last epoch."
        }
        Objective::ValAccuracy => {
            "The number the search tries to make as large as possible: the share of validation \
             examples (never trained on) the model classifies correctly."
        }
        Objective::TrainLoss => {
            "The number the search tries to make as small as possible: the loss on the \
             training data itself. It rewards memorising, so prefer a validation objective."
        }
    }
}

/// The study plot tabs: id (what the state, links and lessons name) and label.
pub const PLOT_TABS: [(&str, &str); 8] = [
    ("history", "History"),
    ("intermediate", "Intermediate values"),
    ("parallel", "Parallel coordinates"),
    ("slice", "Slices"),
    ("importance", "Importances"),
    ("contour", "Contour"),
    ("explain", "Why this trial"),
    ("weights", "Weights"),
];

/// The `&'static` id of the plot tab named `name`, if there is one.
pub fn plot_tab(name: &str) -> Option<&'static str> {
    PLOT_TABS.iter().map(|(id, _)| *id).find(|id| *id == name)
}

/// How to read each study plot, by tab id.
pub fn tab_info(tab: &str) -> &'static str {
    match tab {
        "intermediate" => {
            "One line per trial: its objective after every epoch. Pruned trials' lines stop \
             where the pruner cut them."
        }
        "parallel" => {
            "Each vertical axis is a parameter, the last one the objective; each line is a \
             trial crossing the axes at its values. Colour shows how good it was: follow the \
             best-coloured lines to see which values they share."
        }
        "slice" => {
            "One plot per parameter: each dot is a trial at its value of that parameter (x) and \
             its objective (y). A clear trend means the parameter matters."
        }
        "importance" => {
            "How much each parameter explains where the good trials are (PED-ANOVA, as Optuna \
             computes it). Tune the important ones; fix the rest."
        }
        "explain" => {
            "What TPE computed when it proposed the selected trial: it split the finished \
             trials into a good group (green) and the rest, fitted a density to each, l(x) \
             and g(x), drew candidates from l(x) and kept the one where l(x) is largest \
             relative to g(x). The first trials are random: TPE needs some results first."
        }
        "weights" => {
            "The selected trial's weights and gradients, one layer at a time, after every \
             epoch (as TensorBoard's Distributions and Histograms tabs show them): weights that \
             spread out are learning; gradients that shrink towards zero mean that layer has \
             stopped learning (vanishing gradients), ones that blow up mean the learning rate \
             is too high."
        }
        "contour" => {
            "Two parameters at once: colour is the objective estimated between the trials \
             (dots). Look for the region where the good colour is."
        }
        _ => {
            "Each dot is a finished trial's objective, in the order they ran; grey dots are \
             pruned trials at their last value. The line is the best so far: it steps when a \
             trial beats all before it."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backticks_become_plain_quotes() {
        assert_eq!(
            plain_quotes("parameter `lr`: low must be below `high`"),
            "parameter “lr”: low must be below “high”"
        );
        assert_eq!(plain_quotes("no quotes"), "no quotes");
        assert_eq!(plain_quotes("odd `a` `b"), "odd “a” \"b");
    }

    #[test]
    fn every_choice_is_explained() {
        for s in SamplerChoice::ALL {
            assert!(sampler_info(s).len() > 40);
        }
        for k in PrunerConfig::KINDS {
            if let Some(p) = PrunerConfig::with_defaults(k) {
                assert!(pruner_info(&p).len() > 40, "{k}");
            }
        }
        for o in Objective::ALL {
            assert!(objective_info(o).len() > 40);
        }
        let tabs: Vec<&str> = PLOT_TABS.iter().map(|(id, _)| *id).collect();
        let texts: std::collections::BTreeSet<_> = tabs.iter().map(|t| tab_info(t)).collect();
        assert_eq!(texts.len(), tabs.len(), "one explanation per tab");
    }
}
