"""Self-contained HTML reports: every capability contributes sections; plots are inline SVG."""
