"""The scikit-learn estimator ``BernoulliRBM``."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _native

_MAX_SEED = np.iinfo(np.int64).max


def _seed(random_state):
    """A 64-bit seed from ``random_state`` (None: fresh entropy; an int: that
    int, so repeated fits give the same model; a RandomState: one draw)."""
    if isinstance(random_state, Integral):
        return int(random_state) & ((1 << 64) - 1)
    return int(check_random_state(random_state).randint(0, _MAX_SEED, dtype=np.int64))


def _f32(X):
    return np.ascontiguousarray(X, dtype=np.float32)


def _in_unit_interval(X, what="X", warn=True):
    """Whether ``X`` is in [0, 1], the range of Bernoulli units; warns when
    it is not (values outside are used as they are, as scikit-learn does)."""
    lo, hi = (float(X.min()), float(X.max())) if X.size else (0.0, 0.0)
    inside = lo >= 0.0 and hi <= 1.0
    if not inside and warn:
        warnings.warn(
            f"{what} holds values in [{lo:g}, {hi:g}], outside [0, 1]: a Bernoulli RBM models binary "
            "data or probabilities; the values are used as mean-field visible values, as "
            "scikit-learn's BernoulliRBM does. Scale the data first (e.g. MinMaxScaler).",
            UserWarning,
            stacklevel=3,
        )
    return inside


def _is_binary(X32):
    return bool(np.all((X32 == 0.0) | (X32 == 1.0)))


class BernoulliRBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Bernoulli restricted Boltzmann machine trained by persistent
    contrastive divergence (PCD) or CD-k, on the ``boltzmann`` Rust kernels.

    The constructor's first six parameters, the fitted attributes and the
    methods ``fit``, ``partial_fit``, ``transform``, ``score_samples`` and
    ``gibbs`` are those of ``sklearn.neural_network.BernoulliRBM``; with the
    defaults it runs the same algorithm (PCD-1 with as many persistent chains
    as the batch, constant learning rate, no momentum, no weight decay).
    Differences: the examples are shuffled every epoch (``shuffle``), the
    visible biases start at the data's log-odds, and the random streams are
    the library's (same ``random_state``, same model — for any ``n_jobs`` —
    but not scikit-learn's numbers).

    Parameters
    ----------
    n_components : int, default=256
        Hidden units.
    learning_rate : float, default=0.1
        Learning rate of the gradient of the average log-likelihood.
    batch_size : int, default=10
        Examples per mini-batch.
    n_iter : int, default=10
        Epochs (passes over the training data) of ``fit``.
    verbose : int, default=0
        Print one line per epoch (pseudo-likelihood and time).
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the shuffles and every chain.
    algorithm : {"pcd", "cd"}, default="pcd"
        Persistent chains (Tieleman 2008) or chains restarted at the data.
    k : int, default=1
        Gibbs sweeps per update.
    n_chains : int or None, default=None
        Persistent chains (PCD); None: ``batch_size``, as scikit-learn.
    momentum : float, default=0.0
        Momentum of SGD, in [0, 1).
    final_learning_rate : float or None, default=None
        Decay the learning rate linearly to this value over ``n_iter``
        epochs (None: constant). ``fit`` with PCD learns far better models
        with a decay (the library's measurements: docs/results.md).
    l2 : float, default=0.0
        L2 weight decay.
    centering : float or None, default=None
        Centering (Melchior, Fischer & Wiskott 2016) with this sliding-average
        rate of the hidden offsets, in (0, 1]; None: off.
    optimizer : {"sgd", "adam"}, default="sgd"
        Update rule (use a learning rate near 1e-3 with Adam).
    shuffle : bool, default=True
        Shuffle the examples every epoch (scikit-learn does not).
    n_jobs : int or None, default=None
        Threads (None or -1: all cores). Results do not depend on it.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features), float32
        Weights.
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    h_samples_ : ndarray of shape (n_chains, n_components)
        Hidden states of the persistent chains.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when ``X`` has feature names that are all strings.
    log_z_ : float
        log Z of the last ``log_likelihood`` call (exact or AIS).

    Examples
    --------
    >>> import numpy as np
    >>> from boltzmann import BernoulliRBM
    >>> X = (np.random.RandomState(0).rand(200, 16) > 0.5).astype(np.float64)
    >>> rbm = BernoulliRBM(n_components=8, n_iter=5, random_state=0).fit(X)
    >>> rbm.transform(X).shape
    (200, 8)
    >>> rbm.sample(3, n_steps=10, random_state=1).shape
    (3, 16)
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "algorithm": [StrOptions({"pcd", "cd"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "n_chains": [Interval(Integral, 1, None, closed="left"), None],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "final_learning_rate": [Interval(Real, 0, None, closed="left"), None],
        "l2": [Interval(Real, 0, None, closed="left")],
        "centering": [Interval(Real, 0, 1, closed="right"), None],
        "optimizer": [StrOptions({"sgd", "adam"})],
        "shuffle": ["boolean"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_components=256,
        *,
        learning_rate=0.1,
        batch_size=10,
        n_iter=10,
        verbose=0,
        random_state=None,
        algorithm="pcd",
        k=1,
        n_chains=None,
        momentum=0.0,
        final_learning_rate=None,
        l2=0.0,
        centering=None,
        optimizer="sgd",
        shuffle=True,
        n_jobs=None,
    ):
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.algorithm = algorithm
        self.k = k
        self.n_chains = n_chains
        self.momentum = momentum
        self.final_learning_rate = final_learning_rate
        self.l2 = l2
        self.centering = centering
        self.optimizer = optimizer
        self.shuffle = shuffle
        self.n_jobs = n_jobs

    # ----------------------------------------------------------------- fitting

    def _new_trainer(self, X32, epochs, batch_size, initial=None, online=False):
        # Binary data trains on the binary kernels; anything else as
        # mean-field values; an online run (partial_fit) must take any later
        # chunk, so it never assumes binary data.
        binary = not online and _is_binary(X32)
        return _native.Trainer(
            X32,
            n_hidden=self.n_components,
            algorithm_name=self.algorithm,
            k=self.k,
            n_chains=self.n_chains if self.n_chains is not None else self.batch_size,
            learning_rate=self.learning_rate,
            final_learning_rate=self.final_learning_rate,
            batch_size=batch_size,
            epochs=epochs,
            optimizer_name=self.optimizer,
            momentum=self.momentum,
            l2=self.l2,
            centering=self.centering,
            probability_data=not binary,
            any_real_data=not binary,
            shuffle=self.shuffle,
            seed=_seed(self.random_state),
            n_jobs=self.n_jobs,
            initial=initial,
        )

    def _sync(self):
        """Fitted attributes from the trainer's model."""
        m = self._trainer.model()
        self.components_ = np.ascontiguousarray(m.weights.T)
        self.intercept_hidden_ = m.hidden_bias
        self.intercept_visible_ = m.visible_bias
        self.h_samples_ = self._trainer.chain_hidden()

    def _validate(self, X, reset):
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=reset)
        _in_unit_interval(X)
        return X

    def fit(self, X, y=None):
        """Fit the model to ``X`` (values in [0, 1]) for ``n_iter`` epochs.

        Returns
        -------
        self
        """
        self._validate_params()
        X = self._validate(X, reset=True)
        X32 = _f32(X)
        batch = min(self.batch_size, X32.shape[0])
        self._trainer = self._new_trainer(X32, self.n_iter, batch)
        self._run_epochs(X32)
        return self

    def partial_fit(self, X, y=None):
        """One epoch over ``X`` in mini-batches of ``batch_size`` (a chunk of
        a larger data set or a stream); the first call starts the model.

        scikit-learn's ``partial_fit`` makes one update on all of ``X``; here
        ``X`` may be any size and is split into batches, and the optimizer
        and persistent chains carry over between calls.

        Returns
        -------
        self
        """
        first = not hasattr(self, "_trainer")
        loaded = first and hasattr(self, "components_")
        if first:
            self._validate_params()
        X = self._validate(X, reset=first and not loaded)
        X32 = _f32(X)
        if first:
            initial = self._model() if loaded else None
            self._trainer = self._new_trainer(X32, 1, min(self.batch_size, X32.shape[0]), initial, online=True)
        else:
            self._trainer.set_epochs(self._trainer.epoch + 1)
        self._trainer.run_epoch(X32, n_jobs=self.n_jobs)
        self._sync()
        return self

    def _run_epochs(self, X32):
        while not self._trainer.is_done():
            t0 = time.time()
            self._trainer.run_epoch(X32, n_jobs=self.n_jobs)
            if self.verbose:
                self._sync()
                pl = self.score_samples(X32).mean()
                print(
                    f"[{type(self).__name__}] Iteration {self._trainer.epoch}, "
                    f"pseudo-likelihood = {pl:.2f}, time = {time.time() - t0:.2f}s"
                )
        self._sync()

    # ------------------------------------------------------------- inference

    def _model(self):
        """The native model of the current fitted attributes (so that edits
        of ``components_`` and the intercepts take effect, as in sklearn)."""
        check_is_fitted(self)
        return _native.Rbm(
            np.ascontiguousarray(np.asarray(self.components_, dtype=np.float32).T),
            np.asarray(self.intercept_visible_, dtype=np.float32),
            np.asarray(self.intercept_hidden_, dtype=np.float32),
        )

    def transform(self, X):
        """Hidden-unit probabilities ``p(h = 1 | X)``, in ``X``'s dtype.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return self._model().hidden_probs(_f32(X), n_jobs=self.n_jobs).astype(X.dtype, copy=False)

    def _free_energy(self, X):
        return self._model().free_energy(_f32(X), n_jobs=self.n_jobs)

    def score_samples(self, X):
        """Pseudo-likelihood of each row as scikit-learn defines it: the
        number of features times ``log σ(F(x̃) − F(x))``, ``x̃`` being ``x``
        with one feature flipped (``x → 1 − x``).

        scikit-learn draws the flipped feature at random in every call; here
        it is chosen by a hash of the row's values keyed by ``random_state``
        (when it is an integer; otherwise by 0), so a row gets the same score
        in every call, wherever it stands in ``X``.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        v = self._validate(X, reset=False)
        n, d = v.shape
        key = _seed(self.random_state if isinstance(self.random_state, Integral) else 0)
        coef = np.random.default_rng(key).integers(1, 1 << 63, size=d, dtype=np.uint64) | np.uint64(1)
        bits = np.ascontiguousarray(v, dtype=np.float32).view(np.uint32).astype(np.uint64)
        with np.errstate(over="ignore"):
            hsh = (bits * coef).sum(axis=1, dtype=np.uint64)
            hsh ^= hsh >> np.uint64(31)
            hsh *= np.uint64(0x9E3779B97F4A7C15)
            hsh ^= hsh >> np.uint64(29)
        ind = (np.arange(n), (hsh % np.uint64(d)).astype(np.intp))
        v_ = v.copy()
        v_[ind] = 1 - v_[ind]
        fe, fe_ = self._free_energy(v), self._free_energy(v_)
        return -d * np.logaddexp(0, -(fe_ - fe))

    def gibbs(self, v):
        """One Gibbs step from ``v``: ``h ~ p(h|v)``, then ``v' ~ p(v|h)``.

        Returns
        -------
        ndarray of shape (n_samples, n_features), the sampled ``v'``
        """
        check_is_fitted(self)
        v = self._validate(v, reset=False)
        seed = _seed(self.random_state)
        rng = np.random.default_rng(seed)
        m = self._model()
        p = m.hidden_probs(_f32(v), n_jobs=self.n_jobs)
        h = (rng.random(p.shape, dtype=np.float32) < p).astype(np.float32)
        pv = m.visible_probs(h, n_jobs=self.n_jobs)
        return (rng.random(pv.shape, dtype=np.float32) < pv).astype(v.dtype)

    def sample(self, n_samples, n_steps=1000, random_state=None):
        """Samples of the model: ``n_samples`` chains from uniformly random
        visible states, ``n_steps`` block-Gibbs sweeps each (in parallel).

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32, binary
        """
        check_is_fitted(self)
        if not (isinstance(n_samples, Integral) and n_samples >= 1):
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}")
        if not (isinstance(n_steps, Integral) and n_steps >= 1):
            raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
        m = self._model()
        chains = _native.Chains(m, int(n_samples), _seed(random_state))
        chains.sweep(m, int(n_steps), n_jobs=self.n_jobs)
        return chains.visible

    def log_likelihood(self, X, method="auto", ais_runs=100, ais_steps=None, base_data=None, random_state=None):
        """log p(x) of each (binary) row of ``X``: the free energies minus
        log Z, with log Z exact (``method="exact"``: a sum over the smaller
        layer, at most 30 units) or by annealed importance sampling
        (``"ais"``: ``ais_runs`` runs, ``ais_steps`` linear steps or
        Salakhutdinov & Murray's 14,500-step schedule, from the base-rate
        model of ``base_data`` — usually the training data — or of ``X``).
        ``"auto"``: exact when the smaller layer has at most 20 units.
        Sets ``log_z_`` (and ``log_z_interval_``, the ±3σ AIS interval).

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        X32 = _f32(X)
        if not _is_binary(X32):
            raise ValueError("log_likelihood needs binary X (0 or 1): it is the probability of binary states")
        if method not in ("auto", "exact", "ais"):
            raise ValueError(f'method must be "auto", "exact" or "ais", got {method!r}')
        m = self._model()
        small = min(m.n_visible, m.n_hidden)
        if method == "exact" or (method == "auto" and small <= 20):
            self.log_z_ = _native.log_partition_exact(m, n_jobs=self.n_jobs)
            self.log_z_interval_ = (self.log_z_, self.log_z_)
        else:
            base = X32 if base_data is None else _f32(validate_data(self, base_data, reset=False))
            if base_data is not None and not (_in_unit_interval(base, "base_data", warn=False) and _is_binary(base)):
                raise ValueError("base_data must be binary (0 or 1), like the data whose probability is computed")
            est = _native.ais(
                m, base_data=base, runs=ais_runs, steps=ais_steps, seed=_seed(random_state), n_jobs=self.n_jobs
            )
            self.log_z_ = est["log_z"]
            self.log_z_interval_ = (est["log_z_low"], est["log_z_high"])
        return -m.free_energy(X32, n_jobs=self.n_jobs) - self.log_z_

    # ------------------------------------------------------------------ files

    def save(self, path):
        """Write the model as a ``boltzmann`` model file (safetensors, the
        format of ``boltzmann train``'s ``model.safetensors``)."""
        self._model().save(str(path))

    @classmethod
    def load(cls, path, **params):
        """A fitted estimator from a model file (``boltzmann train``'s or
        ``save``'s); ``params`` set the other constructor parameters.
        ``partial_fit`` continues from the loaded weights."""
        m = _native.Rbm.load(str(path))
        est = cls(n_components=m.n_hidden, **params)
        est.components_ = np.ascontiguousarray(m.weights.T)
        est.intercept_hidden_ = m.hidden_bias
        est.intercept_visible_ = m.visible_bias
        est.h_samples_ = np.zeros((est.n_chains or est.batch_size, m.n_hidden), dtype=np.float32)
        est.n_features_in_ = m.n_visible
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
