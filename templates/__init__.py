"""Report templates (Jinja), shipped inside the package as reportgen.templates."""
