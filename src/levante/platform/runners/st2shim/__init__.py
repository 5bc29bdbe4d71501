"""Folder put first on the ``PYTHONPATH`` of Python action processes: it holds the small
``st2common`` package through which StackStorm packs import their base class
(``from st2common.runners.base_action import Action``). It is never a top-level package of
the Levante distribution, so it cannot clash with a real ``st2common`` installed beside it.
"""
