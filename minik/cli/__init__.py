"""cli: see docs/ for what this component will hold."""
