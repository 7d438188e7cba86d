"""Views for people: tables, explain's steps, notation, previews, diagnoses, progress."""
