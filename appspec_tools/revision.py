"""Temporary: replaced by the revision reader this session."""
class RevisionError(Exception):
    pass
def is_archive(path):
    return False
