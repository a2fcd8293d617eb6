"""DuckDB storage: append-only migrations, a batched writer, readers."""
