"""Reports: the JSON verdict, the HTML and JUnit reports, the Markdown summary, the terminal."""
