"""The dashboard's widgets: each draws one view of a RunState."""
