//! Hierarchical risk parity (López de Prado), with PyPortfolioOpt's `HRPOpt.optimize('single')`
//! conventions: correlation distance `√(clip((1 − ρ)/2, 0, 1))`, single linkage built the way
//! scipy's `linkage(..., 'single')` builds it (Prim's minimum spanning tree, merges sorted
//! stably by height, the lower cluster id on the left), leaves in `to_tree(...).pre_order()`
//! order, then recursive bisection of that order at `len/2` with inverse-variance cluster
//! variances and `α = 1 − v1/(v1 + v2)` for the first half. Closed form, O(N²).

use nalgebra::DMatrix;

/// One merge of the linkage: the two cluster ids (leaves are `0..n`, merge `k` is `n + k`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Merge {
    pub left: usize,
    pub right: usize,
    pub height: f64,
}

/// HRP weights from a per-bar covariance matrix with a positive diagonal.
pub(crate) fn hrp(cov: &DMatrix<f64>) -> Vec<f64> {
    let n = cov.nrows();
    if n == 1 {
        return vec![1.0];
    }
    let dist = DMatrix::from_fn(n, n, |i, j| {
        let rho = cov[(i, j)] / (cov[(i, i)] * cov[(j, j)]).sqrt();
        ((1.0 - rho) / 2.0).clamp(0.0, 1.0).sqrt()
    });
    let merges = single_linkage(&dist);
    let order = pre_order(&merges, n);
    bisect(cov, &order)
}

/// scipy's MST single linkage: Prim's algorithm from point 0, recording (previous point, new
/// point, distance to the tree); the records sorted stably by distance; then relabelled with a
/// union–find so each merge names the current clusters, the lower id first.
pub(crate) fn single_linkage(dist: &DMatrix<f64>) -> Vec<Merge> {
    let n = dist.nrows();
    let mut merged = vec![false; n];
    let mut d = vec![f64::INFINITY; n];
    let mut raw: Vec<(usize, usize, f64)> = Vec::with_capacity(n.saturating_sub(1));
    let mut x = 0usize;
    for _ in 0..n.saturating_sub(1) {
        merged[x] = true;
        let mut current_min = f64::INFINITY;
        let mut y = 0usize;
        for i in 0..n {
            if merged[i] {
                continue;
            }
            let dd = dist[(x, i)];
            if d[i] > dd {
                d[i] = dd;
            }
            if d[i] < current_min {
                y = i;
                current_min = d[i];
            }
        }
        raw.push((x, y, current_min));
        x = y;
    }
    raw.sort_by(|a, b| a.2.total_cmp(&b.2)); // stable, like numpy's mergesort
    // Union–find over cluster ids 0..2n-1; parent[c] = c for a live root.
    let mut parent: Vec<usize> = (0..2 * n - 1).collect();
    let find = |parent: &mut Vec<usize>, mut c: usize| -> usize {
        let start = c;
        while parent[c] != c {
            c = parent[c];
        }
        let root = c;
        let mut p = start;
        while parent[p] != root {
            let next = parent[p];
            parent[p] = root;
            p = next;
        }
        root
    };
    let mut next_label = n;
    raw.into_iter()
        .map(|(a, b, h)| {
            let ra = find(&mut parent, a);
            let rb = find(&mut parent, b);
            let (left, right) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent[ra] = next_label;
            parent[rb] = next_label;
            next_label += 1;
            Merge {
                left,
                right,
                height: h,
            }
        })
        .collect()
}

/// Leaves left to right (scipy `ClusterNode.pre_order()` of the root `2n − 2`).
pub(crate) fn pre_order(merges: &[Merge], n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    let mut stack = vec![2 * n - 2];
    while let Some(c) = stack.pop() {
        if c < n {
            out.push(c);
        } else {
            let m = merges[c - n];
            stack.push(m.right);
            stack.push(m.left);
        }
    }
    out
}

/// Variance of the inverse-variance portfolio of `items`.
fn cluster_var(cov: &DMatrix<f64>, items: &[usize]) -> f64 {
    let inv: Vec<f64> = items.iter().map(|&i| 1.0 / cov[(i, i)]).collect();
    let s: f64 = inv.iter().sum();
    let mut v = 0.0;
    for (a, &i) in items.iter().enumerate() {
        for (b, &j) in items.iter().enumerate() {
            v += inv[a] / s * cov[(i, j)] * inv[b] / s;
        }
    }
    v
}

/// Recursive bisection of the ordered leaves.
fn bisect(cov: &DMatrix<f64>, order: &[usize]) -> Vec<f64> {
    let mut w = vec![1.0; cov.nrows()];
    let mut stack: Vec<&[usize]> = vec![order];
    while let Some(items) = stack.pop() {
        if items.len() < 2 {
            continue;
        }
        let (first, second) = items.split_at(items.len() / 2);
        let v1 = cluster_var(cov, first);
        let v2 = cluster_var(cov, second);
        let alpha = 1.0 - v1 / (v1 + v2);
        for &i in first {
            w[i] *= alpha;
        }
        for &i in second {
            w[i] *= 1.0 - alpha;
        }
        stack.push(second);
        stack.push(first);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(n: usize, pairs: &[(usize, usize, f64)]) -> DMatrix<f64> {
        let mut d = DMatrix::zeros(n, n);
        for &(i, j, v) in pairs {
            d[(i, j)] = v;
            d[(j, i)] = v;
        }
        d
    }

    #[test]
    fn linkage_matches_scipy_conventions() {
        // scipy.cluster.hierarchy.linkage(squareform(D), 'single') for this D is
        // [[1, 3, 0.1, 2], [0, 2, 0.2, 2], [4, 5, 0.3, 4]]: pairs (1,3) and (0,2) merge first,
        // the two pairs join at 0.3 (the (0,1) distance), clusters 4 (= {1,3}) left of 5.
        let d = dist(
            4,
            &[
                (0, 1, 0.3),
                (0, 2, 0.2),
                (0, 3, 0.5),
                (1, 2, 0.6),
                (1, 3, 0.1),
                (2, 3, 0.7),
            ],
        );
        let m = single_linkage(&d);
        let got: Vec<(usize, usize, f64)> = m.iter().map(|x| (x.left, x.right, x.height)).collect();
        assert_eq!(got, vec![(1, 3, 0.1), (0, 2, 0.2), (4, 5, 0.3)]);
        assert_eq!(pre_order(&m, 4), vec![1, 3, 0, 2]);
    }

    #[test]
    fn three_asset_hand_worked() {
        // Variances 1, 4, 9 (per bar), corr(0,1) = 0.5, the others 0. Distances d01 = 0.5,
        // d02 = d12 = √0.5. Prim from 0 records (0,1,0.5), (1,2,√0.5); relabelled: merge 3 =
        // {0,1}, then (2, 3) with leaf 2 on the left (lower id). Order [2, 0, 1]; split at 1:
        // [2] | [0, 1]. v1 = 9; {0,1} has ivp weights (0.8, 0.2), v2 = 0.64 + 0.32 + 0.16 = 28/25.
        // α = 1 − 9/(9 + 28/25) = 28/253 to asset 2; then [0] | [1]: α' = 1 − 1/5 = 0.8.
        // PyPortfolioOpt HRPOpt(cov_matrix=...).optimize('single') gives the same
        // (0.7114624505928853, 0.1778656126482213, 0.11067193675889342).
        let cov: DMatrix<f64> =
            DMatrix::from_row_slice(3, 3, &[1.0, 1.0, 0.0, 1.0, 4.0, 0.0, 0.0, 0.0, 9.0]);
        let dist = DMatrix::from_fn(3, 3, |i, j| {
            ((1.0 - cov[(i, j)] / (cov[(i, i)] * cov[(j, j)]).sqrt()) / 2.0).sqrt()
        });
        assert_eq!(pre_order(&single_linkage(&dist), 3), vec![2, 0, 1]);
        let w = hrp(&cov);
        let expect = [180.0 / 253.0, 45.0 / 253.0, 28.0 / 253.0];
        for (g, e) in w.iter().zip(expect) {
            assert!((g - e).abs() < 1e-15, "{w:?} vs {expect:?}");
        }
    }
}
