//! Bounds on what reading a scenario may cost, whatever the input: **invariant: reading,
//! validating and planning any file take memory and time bounded by these limits** (a 353-byte
//! YAML file of nested aliases took 15.8 GB; 150,000 nested XML elements overflowed the stack).
//! A scenario of 10,000 nodes is a few megabytes and a few hundred thousand values: far within.

use std::io::Read;
use std::path::Path;

/// The largest file vnx reads as a scenario, modify document or saved plan.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// The deepest nesting of XML elements or YAML collections (a scenario needs about six).
pub const MAX_DEPTH: usize = 64;

/// The most YAML values (scalars and collections) one file may make, aliases' copies included.
pub const MAX_VALUES: usize = 1_000_000;

/// A file's text, refused past [`MAX_FILE_BYTES`] (read no further than that, so a device or a
/// file that grows is bounded too).
pub fn read_to_string(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{} is larger than {} MiB, the most vnx reads as a scenario",
            path.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    Ok(text)
}
