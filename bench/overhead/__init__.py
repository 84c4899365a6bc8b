"""A Django project only for ``bench.write_overhead``: one table per audit tool, all of one shape."""
