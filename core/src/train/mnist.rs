//! MNIST in the IDX format (gzip-compressed or not), parsed from bytes.
//!
//! The bytes come from the files natively and from `fetch` in the browser, so the parser
//! never touches a file system. Bad input is reported with the file's name and the byte
//! offset where it goes wrong.

use std::io::{Cursor, Read};

use super::TrainError;
use super::data::{DataSet, InputShape, Samples};

/// File name of the images, as shipped in `static/data/mnist10k/`.
pub const IMAGES_FILE: &str = "mnist10k-images-idx3-ubyte.gz";
/// File name of the labels, as shipped in `static/data/mnist10k/`.
pub const LABELS_FILE: &str = "mnist10k-labels-idx1-ubyte.gz";

/// Mean and standard deviation of MNIST's pixels (scaled to [0, 1]), used to normalise.
const MEAN: f32 = 0.1307;
const STD: f32 = 0.3081;

/// MNIST images and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// Pixels, `len * rows * cols` bytes, 0 = background, 255 = ink.
    pub pixels: Vec<u8>,
    /// Labels, 0..=9.
    pub labels: Vec<u8>,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
}

fn idx_err(file: &str, offset: usize, reason: impl Into<String>) -> TrainError {
    TrainError::Idx {
        file: file.to_string(),
        offset,
        reason: reason.into(),
    }
}

/// Gunzips `bytes` if they start with the gzip magic; returns them as they are otherwise.
pub fn maybe_gunzip(file: &str, bytes: &[u8]) -> Result<Vec<u8>, TrainError> {
    if bytes.len() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b {
        return Ok(bytes.to_vec());
    }
    let mut cursor = Cursor::new(bytes);
    let mut out = Vec::with_capacity(bytes.len() * 4);
    let result = {
        let mut dec = flate2::bufread::GzDecoder::new(&mut cursor);
        dec.read_to_end(&mut out)
    };
    match result {
        Ok(_) => Ok(out),
        Err(e) => Err(idx_err(
            file,
            cursor.position() as usize,
            format!("corrupt or truncated gzip data: {e}"),
        )),
    }
}

fn be_u32(file: &str, b: &[u8], offset: usize) -> Result<u32, TrainError> {
    let s = b.get(offset..offset + 4).ok_or_else(|| {
        idx_err(
            file,
            b.len(),
            format!(
                "the IDX header ends early (needs 4 bytes at offset {offset}, the file has {})",
                b.len()
            ),
        )
    })?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses an IDX file of unsigned bytes with `dims` dimensions; returns the dimensions and
/// the payload.
pub fn parse_idx_u8<'a>(
    file: &str,
    bytes: &'a [u8],
    dims: usize,
) -> Result<(Vec<usize>, &'a [u8]), TrainError> {
    let magic = be_u32(file, bytes, 0)?;
    let expected = 0x0800 | dims as u32;
    if magic != expected {
        return Err(idx_err(
            file,
            0,
            format!(
                "magic number {magic} (0x{magic:08x}) is not {expected} (unsigned bytes, {dims} dimension(s))"
            ),
        ));
    }
    let mut shape = Vec::with_capacity(dims);
    for d in 0..dims {
        let n = be_u32(file, bytes, 4 + 4 * d)? as usize;
        if n == 0 {
            return Err(idx_err(file, 4 + 4 * d, format!("dimension {d} is 0")));
        }
        shape.push(n);
    }
    let header = 4 + 4 * dims;
    let need = shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or_else(|| idx_err(file, 4, "the dimensions overflow"))?;
    let payload = &bytes[header..];
    if payload.len() < need {
        return Err(idx_err(
            file,
            bytes.len(),
            format!(
                "truncated: the header promises {need} bytes of data after offset {header}, but the file ends after {}",
                payload.len()
            ),
        ));
    }
    if payload.len() > need {
        return Err(idx_err(
            file,
            header + need,
            format!("{} unexpected bytes after the data", payload.len() - need),
        ));
    }
    Ok((shape, payload))
}

impl Mnist {
    /// Parses the images and labels files (gzip-compressed or raw IDX). `images_name` and
    /// `labels_name` are used in error messages.
    pub fn parse(
        images_name: &str,
        images: &[u8],
        labels_name: &str,
        labels: &[u8],
    ) -> Result<Mnist, TrainError> {
        let images = maybe_gunzip(images_name, images)?;
        let labels = maybe_gunzip(labels_name, labels)?;
        let (ishape, pixels) = parse_idx_u8(images_name, &images, 3)?;
        let (lshape, label_bytes) = parse_idx_u8(labels_name, &labels, 1)?;
        if ishape[0] != lshape[0] {
            return Err(idx_err(
                labels_name,
                4,
                format!(
                    "{} labels for {} images in {images_name}",
                    lshape[0], ishape[0]
                ),
            ));
        }
        if let Some(i) = label_bytes.iter().position(|&l| l > 9) {
            return Err(idx_err(
                labels_name,
                8 + i,
                format!("label {} is not a digit 0-9", label_bytes[i]),
            ));
        }
        Ok(Mnist {
            pixels: pixels.to_vec(),
            labels: label_bytes.to_vec(),
            rows: ishape[1],
            cols: ishape[2],
        })
    }

    /// Reads the two files of a directory such as `static/data/mnist10k/`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<Mnist, TrainError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| TrainError::Data(format!("{}: {e}", path.display())))
        };
        let images = read(IMAGES_FILE)?;
        let labels = read(LABELS_FILE)?;
        Mnist::parse(
            &dir.join(IMAGES_FILE).display().to_string(),
            &images,
            &dir.join(LABELS_FILE).display().to_string(),
            &labels,
        )
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n_train` images train, the rest validate. Pixels are scaled to [0, 1] and
    /// normalised with MNIST's mean and standard deviation.
    pub fn split(&self, n_train: usize) -> DataSet {
        let n_train = n_train.min(self.len());
        let dim = self.rows * self.cols;
        let samples = |range: std::ops::Range<usize>| Samples {
            features: self.pixels[range.start * dim..range.end * dim]
                .iter()
                .map(|&p| (f32::from(p) / 255.0 - MEAN) / STD)
                .collect(),
            labels: self.labels[range].iter().map(|&l| i64::from(l)).collect(),
            dim,
        };
        DataSet {
            name: "mnist".to_string(),
            train: samples(0..n_train),
            valid: samples(n_train..self.len()),
            shape: InputShape::Image {
                height: self.rows,
                width: self.cols,
            },
            classes: 10,
            text: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(magic: u32, dims: &[u32], payload: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(payload);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn parses_gzip_and_raw_idx() {
        let images = idx(2051, &[2, 2, 2], &[0, 255, 3, 4, 5, 6, 7, 8]);
        let labels = idx(2049, &[2], &[3, 9]);
        let m = Mnist::parse("i", &gz(&images), "l", &labels).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m.rows, m.cols), (2, 2));
        assert_eq!(m.labels, vec![3, 9]);
        let d = m.split(1);
        assert_eq!(d.train.len(), 1);
        assert_eq!(d.valid.labels, vec![9]);
        assert!((d.train.features[1] - (1.0 - MEAN) / STD).abs() < 1e-6);
    }

    #[test]
    fn bad_input_names_file_and_offset() {
        let labels = idx(2049, &[2], &[3, 9]);
        let images = idx(2051, &[2, 2, 2], &[0, 1, 2]);
        let err = Mnist::parse("img.gz", &images, "lab.gz", &labels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("img.gz") && err.contains("byte 19"), "{err}");
        let err = Mnist::parse("img.gz", &idx(2049, &[2], &[1, 2]), "lab.gz", &labels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("img.gz") && err.contains("byte 0"), "{err}");
        let images = idx(2051, &[2, 2, 2], &[0; 8]);
        let err = Mnist::parse("i", &images, "lab.gz", &idx(2049, &[2], &[1, 12]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("lab.gz") && err.contains("byte 9"), "{err}");
        let mut z = gz(&images);
        let n = z.len();
        z.truncate(n / 2);
        let err = Mnist::parse("img.gz", &z, "l", &labels)
            .unwrap_err()
            .to_string();
        assert!(err.contains("img.gz") && err.contains("gzip"), "{err}");
    }
}
