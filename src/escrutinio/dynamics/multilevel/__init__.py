"""Multilevel (empirical-Bayes) imputation of uncounted tables by stratum.

Why: the hot deck of :mod:`escrutinio.dynamics.projection` imputes an uncounted table
from counted tables near it. When the count is not random *between* areas (Bolivia 2020:
cities and abroad first, rural areas last), a rural place whose department has no counted
rural table is imputed from urban tables of its department: the point is biased and the
interval, made from urban tables, is narrow. What is known about every uncounted table
(its area type, department and municipality, from the roll and the polling places) says
where the uncounted voters are; this model uses it.

Model (per channel: each choice, blank and null, as votes per registered voter):

    y_t = beta . z_p + mu + alpha_area + delta_dept + gamma c_cell + e_cell + m_muni + e_p + u_t

* ``z_p``: covariates of the polling place known for every place: its rate in a previous
  election (same channel), log size (registered voters in the roll), log density when
  the polling-place list has it. beta is fitted by weighted least squares within
  departments; a cluster Poisson bootstrap (Hanley & MacGibbon 2006) gives its
  uncertainty, redrawn in every simulation, so extrapolating in z widens the interval.
  With a previous election this generalises the swing model (beta = 1).
* **Crossed top level.** Area type and department are crossed factors: a cell (area x
  department) has mean mu + alpha_area + delta_dept + gamma c_cell + e_cell, with
  alpha, delta, e normal (ridge / BLUP, variances by EM; Searle, Casella & McCulloch
  1992) and c_cell the cell's completion (slow cells differ; a cell with nothing counted
  sits at completion 0). Rural La Paz is then like urban La Paz *and* like rural Potosí.
* **Nested below**: municipality (within its cell), polling place, table (variance phi /
  registered, binomial-like). Each level's between-node variance is the pooled
  DerSimonian-Laird moment estimator (DerSimonian & Laird 1986), and a node's mean is
  shrunk toward its parent by B = tau^2 / (tau^2 + v) (empirical Bayes; Efron & Morris
  1975; Fay & Herriot 1979 for small areas). Within-parent completion slopes (as the hot
  deck's slow-place adjustment) shift nodes with nothing counted, shrunk by James-Stein.
* **Widening when extrapolating.** A stratum with nothing counted draws its effect from
  N(parent, tau^2): its uncertainty is the between-stratum variation, not the spread of
  a borrowed point. tau^2 is itself uncertain when few strata are counted, so each
  simulation draws it from its Q-profile confidence distribution (Viechtbauer 2007) as
  a generalised pivotal quantity. The area-type variance is drawn likewise, and the crossed
  posterior is redrawn given each draw (:func:`_area_redraw`), so an area type with only a
  few counted tables is as uncertain as the variation between types allows. The count's
  order is not random (cities first), so an
  area type's or department's prior variance is at least the whole between-cell
  variation of the counted cells.
* channels are correlated (a vote for one party is not a vote for another): each level's
  normal draws share the correlation of that level's standardised deviations.
* **Selection of the order inside strata** (:class:`_Selection`): strata do not make an
  urban-first count random; the places counted first in a cell are not its average place.
  A latent-propensity form of Meng's (2018) data defect correlation, with a prior scale
  measured on real count orders (:mod:`escrutinio.dynamics.order_selection`), moves the
  uncounted voters of every cell, and its bias propagates exactly through the crossed fit.

Simulation is top-down (crossed cells, then each nested level given its parent's draw),
the exact conditional of a Gaussian hierarchy: theta_child | theta_parent, data ~
N(theta_parent + B (m_child - theta_parent), B v_child). Everything is vectorised over
strata and simulations; the only loops are over levels, channels and chunks. The
justification is a simulation study on urban-first counts (:mod:`escrutinio.dynamics.urban_first`).

Null hypothesis: none (an estimator). Caveat: the model assumes that uncounted places of
a stratum are like the counted places of that stratum, up to the stratum's random effect
and a selection of the order as strong as real count orders have shown; a more selective
order, in a direction the covariates do not show, remains a bias.

Modules (every name stays importable from here): :mod:`.model` (:func:`fit`, covariate
slopes, :class:`MultilevelFit`, :func:`extrapolation`), :mod:`.levels` (nested levels'
variances and means), :mod:`.crossed` (the crossed top level), :mod:`.selection` (the
count order's selection prior and term), :mod:`.draws` (:func:`simulate`), :mod:`.shared`.
"""

from escrutinio.dynamics.multilevel.shared import (  # noqa: F401 (re-exported)
    EPS,
    _codes,
    _psd_corr,
    _corr_normal,
)
from escrutinio.dynamics.multilevel.levels import (  # noqa: F401 (re-exported)
    MIN_PARTIAL,
    _Level,
    _pooled_tau2,
    _q_grid,
    _tau2_draws,
    _completion_slope,
    _combine,
)
from escrutinio.dynamics.multilevel.crossed import (  # noqa: F401 (re-exported)
    FLOOR_FACTOR_VARIANCE,
    MAX_RATE_VARIANCE,
    _Crossed,
    _crossed_fit,
    _crossed_design,
    _crossed_bias,
    _crossed_draw,
    _area_redraw,
)
from escrutinio.dynamics.multilevel.selection import (  # noqa: F401 (re-exported)
    SELECTION_R,
    SELECTION_R_GIVEN_REMOTENESS,
    SELECTION_R_SETTLEMENT,
    selection_prior,
    _Selection,
    _place_spread,
    _mills,
    _selection,
)
from escrutinio.dynamics.multilevel.model import (  # noqa: F401 (re-exported)
    SLOPES_WITHIN,
    MAX_CROSSED_LEVELS,
    MultilevelFit,
    _design,
    _slopes,
    fit,
    extrapolation,
)
from escrutinio.dynamics.multilevel.draws import (  # noqa: F401 (re-exported)
    simulate,
    _simulate,
)
