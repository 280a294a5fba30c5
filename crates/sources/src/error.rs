//! The one error type of the sources crate: a whole input that could not be
//! read. Bad records inside a readable input are quarantined, not errors.

/// Why a whole file was rejected. Every message names the file and says what
/// to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{file}: cannot read the file ({cause}): check the path and that it is readable")]
    Read { file: String, cause: std::io::Error },
    #[error("{file}: truncated or corrupt zip archive ({detail}): re-download the file")]
    Zip { file: String, detail: String },
    #[error(
        "{file}: the zip archive holds {found} files, expected exactly one: unpack it and read the file inside"
    )]
    ZipEntries { file: String, found: usize },
    #[error(
        "{file}: {entry} unpacks to more than {limit} bytes: refusing a possible zip bomb; unpack it yourself if you trust it"
    )]
    TooLarge {
        file: String,
        entry: String,
        limit: u64,
    },
    #[error("{file}: not a {format} file: {detail}")]
    Format {
        file: String,
        format: &'static str,
        detail: String,
    },
}
