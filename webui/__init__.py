"""piccl's review UI (Flask). Built in a later issue; the package exists so the layout is stable."""
