//! feed readers: bytes to normalised events plus quarantine records
