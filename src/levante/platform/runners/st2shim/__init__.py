"""Folder put first on the ``PYTHONPATH`` of Python action and sensor processes: it holds
the small ``st2common`` and ``st2reactor`` packages through which StackStorm packs import
their base classes (``from st2common.runners.base_action import Action``, ``from
st2reactor.sensor.base import Sensor, PollingSensor``). It is never a top-level package of
the Levante distribution, so it cannot clash with a real ``st2common`` installed beside it.
"""
