//! Multi-objective helpers of TPE: non-domination ranks, hypervolume, and the greedy
//! hypervolume subset selection (HSSP) that breaks ties at the "below" boundary.

use crate::trial::FrozenTrial;
use crate::view::StudyDirection;

const EPS: f64 = 1e-12;

/// Whether `a` dominates `b` (minimisation): no worse everywhere and better somewhere.
fn dominates(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a.iter().zip(b).any(|(x, y)| x < y)
}

/// Non-domination rank of each point (0 = Pareto front), for minimisation.
pub fn non_domination_ranks(points: &[Vec<f64>]) -> Vec<usize> {
    let n = points.len();
    let mut rank = vec![usize::MAX; n];
    let mut remaining: Vec<usize> = (0..n).collect();
    let mut r = 0;
    while !remaining.is_empty() {
        let front: Vec<usize> = remaining
            .iter()
            .copied()
            .filter(|&i| {
                !remaining
                    .iter()
                    .any(|&j| j != i && dominates(&points[j], &points[i]))
            })
            .collect();
        for &i in &front {
            rank[i] = r;
        }
        remaining.retain(|i| !front.contains(i));
        r += 1;
    }
    rank
}

/// Hypervolume dominated by `points` (minimisation) with respect to `reference`.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let pts: Vec<&Vec<f64>> = points
        .iter()
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x < r))
        .collect();
    if pts.is_empty() {
        return 0.0;
    }
    let d = reference.len();
    if d == 1 {
        let best = pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    // Slice along the last objective.
    let mut sorted = pts.clone();
    sorted.sort_by(|a, b| a[d - 1].total_cmp(&b[d - 1]));
    let mut volume = 0.0;
    for (i, p) in sorted.iter().enumerate() {
        let upper = if i + 1 < sorted.len() {
            sorted[i + 1][d - 1]
        } else {
            reference[d - 1]
        };
        let height = upper - p[d - 1];
        if height <= 0.0 {
            continue;
        }
        let proj: Vec<Vec<f64>> = sorted[..=i].iter().map(|q| q[..d - 1].to_vec()).collect();
        volume += height * hypervolume(&proj, &reference[..d - 1]);
    }
    volume
}

/// numpy's `argmax`: the first maximum, and a NaN wins at once.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if x.is_nan() {
            return i;
        }
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// The 2-objective greedy HSSP on points sorted by the first objective.
fn hssp_2d(points: &[Vec<f64>], k: usize, reference: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    let mut pts: Vec<[f64; 2]> = points.iter().map(|p| [p[0], p[1]]).collect();
    let mut diags: Vec<[f64; 2]> = vec![[reference[0], reference[1]]; points.len()];
    let mut out = Vec::with_capacity(k);
    for _ in 0..k {
        let contribs: Vec<f64> = pts
            .iter()
            .zip(&diags)
            .map(|(p, d)| (d[0] - p[0]) * (d[1] - p[1]))
            .collect();
        let m = argmax(&contribs);
        out.push(order[m]);
        let chosen = pts[m];
        order.remove(m);
        pts.remove(m);
        diags.remove(m);
        for d in diags.iter_mut().take(m) {
            d[0] = d[0].min(chosen[0]);
        }
        for d in diags.iter_mut().skip(m) {
            d[1] = d[1].min(chosen[1]);
        }
    }
    out
}

/// Greedy HSSP on distinct points (exact contributions; infinite ones favour earlier points).
fn hssp_unique(points: &[Vec<f64>], k: usize, reference: &[f64]) -> Vec<usize> {
    if !reference.iter().all(|r| r.is_finite()) {
        return (0..k).collect();
    }
    if k == points.len() {
        return (0..k).collect();
    }
    if reference.len() == 2 {
        return hssp_2d(points, k, reference);
    }
    let mut remaining: Vec<usize> = (0..points.len()).collect();
    let mut chosen: Vec<usize> = Vec::with_capacity(k);
    let mut chosen_pts: Vec<Vec<f64>> = Vec::new();
    let mut hv = 0.0;
    let mut contribs: Vec<f64> = points
        .iter()
        .map(|p| p.iter().zip(reference).map(|(x, r)| r - x).product())
        .collect();
    while chosen.len() < k {
        let m = argmax(&contribs);
        hv += contribs[m];
        let idx = remaining.remove(m);
        contribs.remove(m);
        chosen.push(idx);
        chosen_pts.push(points[idx].clone());
        if chosen.len() == k {
            break;
        }
        contribs = if hv.is_infinite() {
            vec![f64::INFINITY; remaining.len()]
        } else {
            remaining
                .iter()
                .map(|&i| {
                    let inclusive: f64 = points[i]
                        .iter()
                        .zip(reference)
                        .map(|(x, r)| r - x)
                        .product();
                    if inclusive.is_infinite() {
                        return f64::INFINITY;
                    }
                    let mut with = chosen_pts.clone();
                    with.push(points[i].clone());
                    hypervolume(&with, reference) - hv
                })
                .collect()
        };
    }
    chosen
}

/// Greedy hypervolume subset selection (Optuna's `_solve_hssp`): picks `k` of `points`
/// (returned as indices), working on the distinct points in lexicographic order.
pub fn solve_hssp(points: &[Vec<f64>], k: usize, reference: &[f64]) -> Vec<usize> {
    if k >= points.len() {
        return (0..points.len()).collect();
    }
    // np.unique(axis=0): distinct rows, sorted lexicographically, with first occurrences.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .iter()
            .zip(&points[b])
            .map(|(x, y)| x.total_cmp(y))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let mut uniq: Vec<usize> = Vec::new();
    for &i in &order {
        if uniq.last().is_none_or(|&u| points[u] != points[i]) {
            uniq.push(i);
        }
    }
    if uniq.len() < k {
        let mut chosen = vec![false; points.len()];
        for &u in &uniq {
            chosen[u] = true;
        }
        let mut extra = k - uniq.len();
        for c in chosen.iter_mut() {
            if extra == 0 {
                break;
            }
            if !*c {
                *c = true;
                extra -= 1;
            }
        }
        return (0..points.len()).filter(|&i| chosen[i]).collect();
    }
    let upts: Vec<Vec<f64>> = uniq.iter().map(|&i| points[i].clone()).collect();
    hssp_unique(&upts, k, reference)
        .into_iter()
        .map(|j| uniq[j])
        .collect()
}

/// The reference point: the worst value per objective × 1.1 (× 0.9 if negative), 0 → 1e-12.
pub fn reference_point(points: &[Vec<f64>]) -> Vec<f64> {
    let d = points.first().map_or(0, Vec::len);
    (0..d)
        .map(|j| {
            let worst = points
                .iter()
                .map(|p| p[j])
                .fold(f64::NEG_INFINITY, f64::max);
            let r = (1.1 * worst).max(0.9 * worst);
            if r == 0.0 { EPS } else { r }
        })
        .collect()
}

/// Optuna's `_split_complete_trials_multi_objective`.
pub fn split_complete_multi_objective<'a>(
    trials: &[&'a FrozenTrial],
    directions: &[StudyDirection],
    n_below: usize,
) -> (Vec<&'a FrozenTrial>, Vec<&'a FrozenTrial>) {
    if n_below == 0 {
        return (Vec::new(), trials.to_vec());
    }
    if n_below >= trials.len() {
        return (trials.to_vec(), Vec::new());
    }
    let lvals: Vec<Vec<f64>> = trials
        .iter()
        .map(|t| {
            let vs = t.values.clone().unwrap_or_default();
            vs.iter().zip(directions).map(|(v, d)| d.loss(*v)).collect()
        })
        .collect();
    let ranks = non_domination_ranks(&lvals);
    let max_rank = ranks.iter().copied().max().unwrap_or(0);
    let mut selected: Vec<usize> = Vec::new();
    for r in 0..=max_rank {
        let members: Vec<usize> = (0..trials.len()).filter(|&i| ranks[i] == r).collect();
        if selected.len() + members.len() <= n_below {
            selected.extend(members);
            if selected.len() == n_below {
                break;
            }
        } else {
            let need = n_below - selected.len();
            let pts: Vec<Vec<f64>> = members.iter().map(|&i| lvals[i].clone()).collect();
            let reference = reference_point(&pts);
            for j in solve_hssp(&pts, need, &reference) {
                selected.push(members[j]);
            }
            break;
        }
    }
    let mut below = Vec::new();
    let mut above = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        if selected.contains(&i) {
            below.push(*t);
        } else {
            above.push(*t);
        }
    }
    (below, above)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2-D points as the functions here take them.
    fn points(p: &[[f64; 2]]) -> Vec<Vec<f64>> {
        p.iter().map(|x| x.to_vec()).collect()
    }

    #[test]
    fn ranks_and_hypervolume() {
        let pts = points(&[[1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [3.0, 3.0]]);
        assert_eq!(non_domination_ranks(&pts), vec![0, 0, 1, 2]);
        let hv = hypervolume(&pts[..2], &[3.0, 3.0]);
        assert!((hv - 3.0).abs() < 1e-12);
        let hv3 = hypervolume(
            &[vec![1.0, 1.0, 1.0], vec![0.5, 2.0, 2.0]],
            &[3.0, 3.0, 3.0],
        );
        // 8 + 2.5*1*1 - overlap(0.5..1 x 2..3 x 2..3 is already covered? no) computed exactly:
        // box A = [1,3]^3 = 8; box B = [0.5,3]x[2,3]x[2,3] = 2.5; A∩B = [1,3]x[2,3]x[2,3] = 2.
        assert!((hv3 - 8.5).abs() < 1e-12, "{hv3}");
    }

    #[test]
    fn hssp_prefers_spread_points() {
        let pts = points(&[[0.0, 10.0], [5.0, 5.0], [10.0, 0.0], [5.1, 4.9]]);
        let r = vec![11.0, 11.0];
        let pick = solve_hssp(&pts, 1, &r);
        assert_eq!(pick, vec![1]);
        // An infinite reference point keeps the first points in lexicographic order.
        let inf = solve_hssp(&pts, 2, &[f64::INFINITY, 1.0]);
        assert_eq!(inf, vec![0, 1]);
        let pts3 = vec![
            vec![0.0, 10.0, 1.0],
            vec![5.0, 5.0, 1.0],
            vec![10.0, 0.0, 1.0],
            vec![5.1, 4.9, 1.0],
        ];
        assert_eq!(solve_hssp(&pts3, 1, &[11.0, 11.0, 2.0]), vec![1]);
    }
}
