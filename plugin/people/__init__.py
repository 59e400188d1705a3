"""People: faces grouped into persons, by assignment (one new face at a time) and by re-clustering.

:mod:`.matching` holds the rule that decides whether a face joins a person, :mod:`.clustering` forms
groups from unassigned faces, :mod:`.service` applies both to the database together with the user's
corrections, which always win.
"""
