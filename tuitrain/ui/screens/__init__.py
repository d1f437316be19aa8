"""Screens of the tuitrain app: home, preset editor, dashboard, dialogs, help."""
