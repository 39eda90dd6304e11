"""The launcher of the ``factory`` command, kept outside the ``factory`` package.

The import package is ``factory``, a name factory_boy (a common test dependency)
also installs into. Installed into one environment, the two packages share one
folder and overwrite each other's files. The ``factory`` command therefore
starts here, checks that the ``factory`` folder holds our files only
(:mod:`koalpaca_factory.guard`), and only then imports it. Standard library only.
"""
