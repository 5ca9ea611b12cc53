"""Great Expectations checks. The only place where polars frames become pandas frames."""
