"""The Textual UI: the app, its screens and widgets, and the RunState view model they share."""
