"""What ``podnet run`` shows: the opening and closing summaries, which pod output is
shown or folded, and the hint for a client stuck on a dropped connection (README.md)."""
