"""The YAML flow language: loading, validation and compilation to TaskFlow."""
