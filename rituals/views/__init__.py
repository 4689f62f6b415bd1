"""The rituals pages, by feature: the rituals' settings, the review board, presenter mode, my work."""
