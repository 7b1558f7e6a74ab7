//! One zip archive holding a whole file set, for a single download in the browser.

use std::io::{Cursor, Write};

use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use super::{ExportError, ExportFile};

/// Packs `files` (deflated, paths as given) into a zip archive in memory. Entry times are
/// the zip epoch (1980-01-01), so the same export gives the same bytes anywhere.
pub fn zip_files(files: &[ExportFile]) -> Result<Vec<u8>, ExportError> {
    let err = |what: &str, path: &str, e: &dyn std::fmt::Display| {
        ExportError::Zip(format!("{what} `{path}`: {e}"))
    };
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .unix_permissions(0o644);
    for f in files {
        super::check_relative_path(&f.path)?;
        if f.path.ends_with('/') {
            zip.add_directory(f.path.as_str(), options)
                .map_err(|e| err("adding", &f.path, &e))?;
            continue;
        }
        zip.start_file(f.path.as_str(), options)
            .map_err(|e| err("adding", &f.path, &e))?;
        zip.write_all(&f.bytes)
            .map_err(|e| err("writing", &f.path, &e))?;
    }
    let cursor = zip
        .finish()
        .map_err(|e| ExportError::Zip(format!("finishing the archive: {e}")))?;
    Ok(cursor.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn archive_round_trips() {
        let files = vec![
            ExportFile {
                path: "a/b.txt".into(),
                bytes: b"hello hello hello hello".to_vec(),
            },
            ExportFile {
                path: "c.bin".into(),
                bytes: (0..5000u32).map(|i| (i % 7) as u8).collect(),
            },
        ];
        let bytes = zip_files(&files).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 2);
        for f in &files {
            let mut entry = archive.by_name(&f.path).unwrap();
            assert_eq!(entry.compression(), CompressionMethod::Deflated);
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            assert_eq!(out, f.bytes);
        }
        let bad = vec![ExportFile {
            path: "../evil".into(),
            bytes: Vec::new(),
        }];
        assert!(zip_files(&bad).is_err());
    }
}
