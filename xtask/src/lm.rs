//! The language model's corpora and its pretraining.
//!
//! * `cargo xtask lm-data` fetches two public-domain texts from Debian's archive (pinned
//!   package versions) and writes them as plain UTF-8:
//!   - Jane Austen's six novels, from `r-cran-janeaustenr` (the R package's data, stored
//!     as R-serialised character vectors, one line per element): the pretraining corpus,
//!     `target/lm-data/austen.txt` (4 MB; not committed: made again by this command).
//!   - Ambrose Bierce's *The Devil's Dictionary* (1911), from `dict-devil` (a dictd
//!     database: a gzip stream of the entries): the fine-tuning corpus,
//!     `static/data/lm/devils-dictionary.txt` (committed; the playground loads it).
//! * `cargo xtask pretrain-lm` runs `lm-data`, then `sweeplab pretrain-lm` (release) on the
//!   Austen text with the seed and settings recorded in `static/data/lm/README.md`, and
//!   writes `static/data/lm/base.safetensors`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{cargo, root, run};

/// The Debian packages and the versions the corpora come from.
const AUSTEN_DEB: (&str, &str) = ("r-cran-janeaustenr", "1.0.0-1");
const DEVIL_DEB: (&str, &str) = ("dict-devil", "1.0-13.1");

/// Where `lm-data` writes the pretraining corpus.
pub fn austen_path() -> PathBuf {
    root().join("target/lm-data/austen.txt")
}

/// Where `lm-data` writes the fine-tuning corpus.
pub fn devil_path() -> PathBuf {
    root().join("static/data/lm/devils-dictionary.txt")
}

/// `cargo xtask lm-data`
pub fn lm_data() -> Result<()> {
    let work = root().join("target/lm-data");
    std::fs::create_dir_all(&work)?;
    let mut debs = Vec::new();
    for (name, version) in [AUSTEN_DEB, DEVIL_DEB] {
        let file = work.join(format!("{name}_{version}_all.deb"));
        if !file.exists() {
            // `apt-get download` writes into the current directory (the workspace root).
            run(Command::new("apt-get").args(["download", &format!("{name}={version}")]))
                .with_context(|| format!("downloading {name} {version} from Debian's archive"))?;
            std::fs::rename(root().join(file.file_name().context("a file name")?), &file)?;
        }
        let dir = work.join(name);
        if !dir.exists() {
            run(Command::new("dpkg").arg("-x").arg(&file).arg(&dir))?;
        }
        debs.push(dir);
    }
    let rdb = debs[0].join("usr/lib/R/site-library/janeaustenr/data/Rdata.rdb");
    let novels = read_rdb_strings(&std::fs::read(&rdb).with_context(|| rdb.display().to_string())?)
        .with_context(|| format!("reading {}", rdb.display()))?;
    if novels.len() != 6 {
        bail!(
            "{}: {} objects, expected Jane Austen's six novels",
            rdb.display(),
            novels.len()
        );
    }
    let mut austen = String::new();
    for lines in &novels {
        austen.push_str(&lines.join("\n"));
        austen.push_str("\n\n");
    }
    write(&austen_path(), austen.as_bytes())?;

    let dz = debs[1].join("usr/share/dictd/devil.dict.dz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(&dz).with_context(|| dz.display().to_string())?,
    )
    .read_to_string(&mut text)
    .with_context(|| format!("decompressing {}", dz.display()))?;
    // The entries start at the first one; before it are dictd's database headers and the
    // preface.
    let start = text
        .find("ABASEMENT, n.")
        .with_context(|| format!("{}: no entry ABASEMENT", dz.display()))?;
    // After the last entry: dictd's alphabet entry.
    let body = text[start..].replace("\r\n", "\n");
    let body = body.trim_end();
    let body = body
        .strip_suffix("abcdefghijklmnopqrstuvwxyz")
        .unwrap_or(body)
        .trim_end()
        .to_string()
        + "\n";
    write(&devil_path(), body.as_bytes())?;
    println!(
        "xtask: {} ({} bytes), {} ({} bytes)",
        austen_path().display(),
        austen.len(),
        devil_path().display(),
        body.len()
    );
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// The character vectors of an R lazy-load database (`Rdata.rdb`): records of a 4-byte
/// big-endian length and a zlib stream, each an R serialisation (format "X", XDR) of one
/// object. Only character vectors (STRSXP) are read; anything else is an error.
fn read_rdb_strings(bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = u32::from_be_bytes(
            bytes
                .get(at..at + 4)
                .context("a record without its length")?
                .try_into()?,
        ) as usize;
        let mut z = flate2::Decompress::new(true);
        let mut object = Vec::with_capacity(len);
        z.decompress_vec(
            &bytes[at + 4..],
            &mut object,
            flate2::FlushDecompress::Finish,
        )
        .with_context(|| format!("record at byte {at}"))?;
        if object.len() != len {
            bail!(
                "record at byte {at}: {} bytes, its header says {len}",
                object.len()
            );
        }
        out.push(read_strsxp(&object).with_context(|| format!("record at byte {at}"))?);
        at += 4 + z.total_in() as usize;
    }
    Ok(out)
}

/// A reader of XDR integers and bytes.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let v = self.b.get(self.at..self.at + n).context("truncated")?;
        self.at += n;
        Ok(v)
    }

    fn int(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.bytes(4)?.try_into()?))
    }
}

/// One serialised character vector.
fn read_strsxp(b: &[u8]) -> Result<Vec<String>> {
    let mut c = Cursor { b, at: 0 };
    if c.bytes(2)? != b"X\n" {
        bail!("not an XDR serialisation");
    }
    let version = c.int()?;
    let (_writer, _min) = (c.int()?, c.int()?);
    if version == 3 {
        let n = c.int()? as usize;
        c.bytes(n)?; // the native encoding's name
    }
    let flags = c.int()?;
    if flags & 0xff != 16 {
        bail!("an object of type {}, not a character vector", flags & 0xff);
    }
    let n = c.int()?;
    let mut lines = Vec::with_capacity(n.max(0) as usize);
    for _ in 0..n {
        let _char_flags = c.int()?;
        let len = c.int()?;
        if len < 0 {
            lines.push(String::new()); // NA
            continue;
        }
        lines.push(String::from_utf8_lossy(c.bytes(len as usize)?).into_owned());
    }
    Ok(lines)
}

/// The pretraining settings recorded in `static/data/lm/README.md`.
pub const PRETRAIN_ARGS: &[&str] = &[
    "--d-model",
    "96",
    "--layers",
    "3",
    "--heads",
    "4",
    "--d-ff",
    "256",
    "--context",
    "64",
    "--steps",
    "3000",
    "--batch",
    "32",
    "--lr",
    "0.003",
    "--seed",
    "1",
];

/// `cargo xtask pretrain-lm`
pub fn pretrain_lm() -> Result<()> {
    lm_data()?;
    run(cargo()
        .args([
            "run",
            "--release",
            "-p",
            "sweeplab",
            "--",
            "pretrain-lm",
            "--corpus",
        ])
        .arg(austen_path())
        .arg("--out")
        .arg(root().join("static/data/lm/base.safetensors"))
        .args(PRETRAIN_ARGS))
}
