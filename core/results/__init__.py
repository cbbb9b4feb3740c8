"""Results: what a sweep's runs say once they are finished.

Table I (:mod:`core.results.table`) and its statistics (:mod:`core.results.stats`), the power of a
planned sweep (:mod:`core.results.power`), the variance split (:mod:`core.results.variance`), and a
search placed on an exhaustive sweep's ground truth (:mod:`core.results.ground_truth`, with the
supernet's orderings of :mod:`core.results.orderings`).  It reads run directories and sweeps; it
launches nothing (that is :mod:`core.scale`).
"""
