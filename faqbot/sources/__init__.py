"""Reading knowledge folders: YAML FAQ entries and Markdown pages."""
