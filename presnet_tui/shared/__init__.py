"""What both front ends, the CLI and the app, read and format: a run's events folded into a view
model, the α trajectory, a sweep's status cells, numbers in human units."""
