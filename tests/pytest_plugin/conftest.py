"""The sample project is a user's, run by the tests here through pytester, never collected
with the suite."""

collect_ignore = ["sample"]
