//! Matrix products on strided views of plain `f32` slices, through the `gemm` crate Flex
//! itself multiplies with: the CPU paths (`cnn_cpu`, `lm::cpu`) run their forward and
//! backward passes on their own buffers with these, checked for bounds and overlap before
//! `gemm` is called (`None` where a view would leave its slice).

/// A strided matrix read from a slice: element `(r, c)` is `data[offset + r * rs + c * cs]`.
pub(crate) struct Src<'a> {
    data: &'a [f32],
    offset: usize,
    shape: [usize; 2],
    strides: [usize; 2],
}

impl<'a> Src<'a> {
    pub(crate) fn new(
        data: &'a [f32],
        offset: usize,
        shape: [usize; 2],
        strides: [usize; 2],
    ) -> Self {
        Src {
            data,
            offset,
            shape,
            strides,
        }
    }

    /// Whether every element lies inside `data`.
    fn in_bounds(&self) -> bool {
        view_end(self.offset, self.shape, self.strides).is_some_and(|end| end <= self.data.len())
    }
}

/// A strided matrix written into a slice, its rows (or its columns) in disjoint ranges, so no
/// two elements share a value.
pub(crate) struct Dst<'a> {
    data: &'a mut [f32],
    offset: usize,
    shape: [usize; 2],
    strides: [usize; 2],
}

impl<'a> Dst<'a> {
    pub(crate) fn new(
        data: &'a mut [f32],
        offset: usize,
        shape: [usize; 2],
        strides: [usize; 2],
    ) -> Self {
        Dst {
            data,
            offset,
            shape,
            strides,
        }
    }

    /// Whether every element lies inside `data` and no two elements overlap.
    fn valid(&self) -> bool {
        let [rows, cols] = self.shape;
        let [rs, cs] = self.strides;
        // Row by row (each row's columns `cs >= 1` apart, the rows past each other) or
        // column by column: either way no two elements share a value.
        let by_rows = (cols <= 1 || cs >= 1) && (rows <= 1 || rs >= cols.saturating_mul(cs));
        let by_cols = (rows <= 1 || rs >= 1) && (cols <= 1 || cs >= rows.saturating_mul(rs));
        let disjoint = by_rows || by_cols;
        disjoint
            && view_end(self.offset, self.shape, self.strides).is_some_and(|e| e <= self.data.len())
    }
}

/// One past the last index a view touches (`offset` for an empty view); `None` on overflow.
fn view_end(offset: usize, [rows, cols]: [usize; 2], [rs, cs]: [usize; 2]) -> Option<usize> {
    if rows == 0 || cols == 0 {
        return Some(offset);
    }
    let last = (rows - 1)
        .checked_mul(rs)?
        .checked_add((cols - 1).checked_mul(cs)?)?;
    offset.checked_add(last)?.checked_add(1)
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` with `accumulate`, on one thread, by `gemm` (the
/// crate behind Flex's own matrix products). `None` (and `dst` untouched) where the shapes do
/// not chain or a view leaves its slice.
pub(crate) fn matmul(dst: Dst<'_>, lhs: Src<'_>, rhs: Src<'_>, accumulate: bool) -> Option<()> {
    matmul_scaled(dst, lhs, rhs, accumulate, 1.0)
}

/// [`matmul`] with the product scaled by `scale`: `dst = scale · lhs · rhs`, or
/// `dst += scale · lhs · rhs` with `accumulate` (one pass; gemm scales as it accumulates).
pub(crate) fn matmul_scaled(
    dst: Dst<'_>,
    lhs: Src<'_>,
    rhs: Src<'_>,
    accumulate: bool,
    scale: f32,
) -> Option<()> {
    let [m, n] = dst.shape;
    let [lm, k] = lhs.shape;
    let [rk, rn] = rhs.shape;
    if lm != m || rk != k || rn != n || !dst.valid() || !lhs.in_bounds() || !rhs.in_bounds() {
        return None;
    }
    if m == 0 || n == 0 {
        return Some(());
    }
    let stride = |s: usize| isize::try_from(s).ok();
    let (d_rs, d_cs) = (stride(dst.strides[0])?, stride(dst.strides[1])?);
    let (l_rs, l_cs) = (stride(lhs.strides[0])?, stride(lhs.strides[1])?);
    let (r_rs, r_cs) = (stride(rhs.strides[0])?, stride(rhs.strides[1])?);
    let dst_ptr = dst.data[dst.offset..].as_mut_ptr();
    let lhs_ptr = lhs.data[lhs.offset..].as_ptr();
    let rhs_ptr = rhs.data[rhs.offset..].as_ptr();
    // SAFETY: every element of the three views lies inside its slice (checked above, with
    // overflow-checked index arithmetic, and k = 0 reads nothing); `dst` is borrowed mutably
    // and alone, so it aliases neither operand, and its elements are pairwise distinct
    // (`Dst::valid`), so gemm's writes do not overlap; gemm is called single-threaded.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst_ptr,
            d_cs,
            d_rs,
            accumulate,
            lhs_ptr,
            l_cs,
            l_rs,
            rhs_ptr,
            r_cs,
            r_rs,
            1.0f32,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Some(())
}

/// `f` of each chunk, in order; in parallel on rayon's pool natively.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn map_chunks<I: Send, T: Send>(
    items: Vec<I>,
    f: impl Fn(I) -> T + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    items.into_par_iter().map(f).collect()
}

/// `f` of each chunk, in order, one after another (the browser's Flex is single-threaded).
#[cfg(target_arch = "wasm32")]
pub(crate) fn map_chunks<I, T>(items: Vec<I>, f: impl Fn(I) -> T) -> Vec<T> {
    items.into_iter().map(f).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive product of two strided views, for checking [`matmul`].
    fn naive(lhs: &Src<'_>, rhs: &Src<'_>) -> Vec<f32> {
        let ([m, k], [_, n]) = (lhs.shape, rhs.shape);
        let at = |v: &Src<'_>, r: usize, c: usize| {
            v.data[v.offset + r * v.strides[0] + c * v.strides[1]]
        };
        let mut out = vec![0.0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| at(lhs, i, p) * at(rhs, p, j)).sum();
            }
        }
        out
    }

    #[test]
    fn matmul_reads_strided_views_and_accumulates() {
        let a: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..60).map(|i| (i as f32 * 0.11).cos()).collect();
        // lhs: 3 x 4 with column stride 2 from offset 1; rhs: 4 x 5, transposed (rs 1, cs 6).
        let lhs = Src::new(&a, 1, [3, 4], [9, 2]);
        let rhs = Src::new(&b, 2, [4, 5], [1, 6]);
        let want = naive(&lhs, &rhs);
        let mut out = vec![7.0f32; 3 * 8];
        matmul(
            Dst::new(&mut out, 0, [3, 5], [8, 1]),
            Src::new(&a, 1, [3, 4], [9, 2]),
            Src::new(&b, 2, [4, 5], [1, 6]),
            false,
        )
        .expect("in bounds");
        for i in 0..3 {
            for j in 0..5 {
                assert!((out[i * 8 + j] - want[i * 5 + j]).abs() < 1e-5);
            }
            // Values between the rows are left alone.
            assert_eq!(&out[i * 8 + 5..i * 8 + 8], &[7.0, 7.0, 7.0]);
        }
        // A column-major destination (rows 1 apart, columns 3 apart).
        let mut col_major = vec![0.0f32; 15];
        let (l, r) = (
            Src::new(&a, 1, [3, 4], [9, 2]),
            Src::new(&b, 2, [4, 5], [1, 6]),
        );
        matmul(Dst::new(&mut col_major, 0, [3, 5], [1, 3]), l, r, false).expect("in bounds");
        for i in 0..3 {
            for j in 0..5 {
                assert!((col_major[j * 3 + i] - want[i * 5 + j]).abs() < 1e-5);
            }
        }
        matmul(Dst::new(&mut out, 0, [3, 5], [8, 1]), lhs, rhs, true).expect("in bounds");
        for i in 0..3 {
            for j in 0..5 {
                assert!((out[i * 8 + j] - 2.0 * want[i * 5 + j]).abs() < 1e-5);
            }
        }
        // A scaled product accumulates scale times the product.
        let (l, r) = (
            Src::new(&a, 1, [3, 4], [9, 2]),
            Src::new(&b, 2, [4, 5], [1, 6]),
        );
        matmul_scaled(Dst::new(&mut out, 0, [3, 5], [8, 1]), l, r, true, 0.5).expect("in bounds");
        for i in 0..3 {
            for j in 0..5 {
                assert!((out[i * 8 + j] - 2.5 * want[i * 5 + j]).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn matmul_rejects_views_that_leave_their_slice_or_overlap() {
        let a = vec![1.0f32; 12];
        let mut out = vec![0.0f32; 12];
        type View = (usize, [usize; 2], [usize; 2]);
        let cases: [(&str, View, View, View); 3] = [
            // rhs 4 x 3 from offset 1 needs 13 values.
            (
                "rhs past its slice",
                (0, [3, 3], [3, 1]),
                (0, [3, 4], [4, 1]),
                (1, [4, 3], [3, 1]),
            ),
            // Rows 2 apart cannot hold 3 columns each without sharing values.
            (
                "overlapping rows",
                (0, [3, 3], [2, 1]),
                (0, [3, 4], [4, 1]),
                (0, [4, 3], [3, 1]),
            ),
            (
                "shapes that do not chain",
                (0, [3, 3], [3, 1]),
                (0, [3, 2], [2, 1]),
                (0, [4, 3], [3, 1]),
            ),
        ];
        for (why, (d0, ds, dst), (l0, ls, lst), (r0, rs, rst)) in cases {
            let r = matmul(
                Dst::new(&mut out, d0, ds, dst),
                Src::new(&a, l0, ls, lst),
                Src::new(&a, r0, rs, rst),
                false,
            );
            assert!(r.is_none(), "{why}: accepted");
        }
        assert!(
            out.iter().all(|v| *v == 0.0),
            "a rejected product writes nothing"
        );
    }
}
