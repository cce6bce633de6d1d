"""``markov_mixture``: token sequences from a mixture of Markov chains, exact answers known.

The generative model: a component c ~ Categorical(w) over K chains (uniform w), then words
from chain c over a vocabulary of V words,

    x_1 ~ Categorical(init_c),
    after each word x_t (t < L_max):  EOS with probability s, else x_{t+1} ~ Categorical(A_c[x_t]),
    after L_max words:               EOS,

so a sentence has 1..L_max words and one ``EOS`` (stored in the token convention of
:mod:`vae_tfp.data.store`, rows of T = L_max + 1 ids). ``init_c`` and the rows of ``A_c`` are
drawn from a symmetric Dirichlet(``concentration``): a small concentration makes each chain
nearly deterministic and the chains easy to tell apart. The stop probability s is the same
for every chain and state, so the length of a sentence says nothing about its chain.

Exact answers, all in nats:

- log p(x) = logsumexp_c [log w_c + log p(x | c)], with log p(x | c) the sum of the logs of
  the probabilities above (:meth:`MarkovMixtureModel.log_prob`);
- the test-set entropy estimate -mean_n log p(x_n) (the NLL of the true model), which no
  model's expected NLL can beat (Gibbs' inequality);
- the information the data holds about the chain, I(x; c) = H(c) - E_x H(c | x)
  <= H(c) <= log K. A code z that carries more than I(x; c) nats describes within-chain
  detail that an autoregressive decoder models as well without z, and a decoder that can
  represent p(x) itself (an LSTM can: it infers the chain from the prefix) reaches the
  best ELBO, log p(x), with z unused: the classic posterior-collapse setting (Bowman et al.
  2016; Chen et al. 2017, Sec. 2.2).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import logsumexp

from vae_tfp.data.store import EOS_ID, SPECIAL_TOKENS, PreparedData, sequence_mask

FIRST_WORD_ID = len(SPECIAL_TOKENS)


@dataclasses.dataclass(frozen=True)
class MarkovMixtureModel:
    """A uniform mixture of K first-order Markov chains over V words with a stop probability.

    Attributes:
        initial: [K, V], p(x_1 = v | c).
        transition: [K, V, V], p(x_{t+1} = v' | x_t = v, c, no stop); rows sum to 1.
        stop_prob: s, the probability of ``EOS`` after each word (before L_max words).
        max_length: L_max, the most words in a sentence.
    """

    initial: np.ndarray
    transition: np.ndarray
    stop_prob: float
    max_length: int

    @property
    def n_components(self) -> int:
        """K."""
        return self.initial.shape[0]

    @property
    def n_words(self) -> int:
        """V (the vocabulary has V + 4 ids with the special tokens)."""
        return self.initial.shape[1]

    @property
    def log_weights(self) -> np.ndarray:
        """log w_c = -log K for every chain, [K]."""
        return np.full(self.n_components, -np.log(self.n_components))

    def component_entropy(self) -> float:
        """H(c) = log K nats (uniform weights)."""
        return float(-np.sum(np.exp(self.log_weights) * self.log_weights))

    def component_log_likelihoods(self, tokens: np.ndarray) -> np.ndarray:
        """log p(x_n | c) for every sequence and chain, [n, K].

        Args:
            tokens: int array [n, T] in the token convention, T >= L_max + 1.

        Raises:
            ValueError: If a row is not 1..L_max words followed by ``EOS``.
        """
        tokens = np.asarray(tokens)
        valid = sequence_mask(tokens)
        n_words = valid.sum(-1) - 1
        has_eos = np.take_along_axis(tokens, n_words[:, None], axis=1)[:, 0] == EOS_ID
        words = tokens - FIRST_WORD_ID
        in_vocab = (words >= 0) & (words < self.n_words)
        word_positions = valid & (np.arange(tokens.shape[1]) < n_words[:, None])
        if (
            not np.all(has_eos)
            or np.any(n_words < 1)
            or np.any(n_words > self.max_length)
            or np.any(word_positions & ~in_vocab)
        ):
            raise ValueError(
                f"every row must hold 1..{self.max_length} word ids "
                f"({FIRST_WORD_ID}..{FIRST_WORD_ID + self.n_words - 1}) followed by EOS"
            )
        words = np.where(word_positions, words, 0)
        log_init = np.log(self.initial)  # [K, V]
        log_trans = np.log(self.transition)  # [K, V, V]
        out = log_init[:, words[:, 0]].T  # [n, K]
        for t in range(1, tokens.shape[1]):
            step = word_positions[:, t]
            log_step = np.log1p(-self.stop_prob) + log_trans[:, words[:, t - 1], words[:, t]].T
            out += np.where(step[:, None], log_step, 0.0)
        stopped = n_words < self.max_length  # EOS drawn, not forced
        return out + np.where(stopped, np.log(self.stop_prob), 0.0)[:, None]

    def log_prob(self, tokens: np.ndarray) -> np.ndarray:
        """Exact log p(x_n) = logsumexp_c [log w_c + log p(x_n | c)], [n] (nats)."""
        return logsumexp(self.component_log_likelihoods(tokens) + self.log_weights, axis=-1)

    def component_posterior(self, tokens: np.ndarray) -> np.ndarray:
        """p(c | x_n) for every sequence, [n, K]."""
        joint = self.component_log_likelihoods(tokens) + self.log_weights
        return np.exp(joint - logsumexp(joint, axis=-1, keepdims=True))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draws n sentences: (tokens [n, L_max + 1] int32, chains [n] int64)."""
        chains = rng.integers(self.n_components, size=n)
        tokens = np.zeros((n, self.max_length + 1), np.int32)
        word = _categorical(self.initial[chains], rng)
        running = np.ones(n, bool)
        for t in range(self.max_length):
            tokens[running, t] = word[running] + FIRST_WORD_ID
            if t + 1 == self.max_length:
                stop = running
            else:
                stop = running & (rng.random(n) < self.stop_prob)
            tokens[stop, t + 1] = EOS_ID
            running &= ~stop
            word = _categorical(self.transition[chains, word], rng)
        return tokens, chains

    @classmethod
    def from_reference(cls, reference: dict[str, np.ndarray]) -> MarkovMixtureModel:
        """Rebuilds the model from the ``reference`` arrays of a prepared dataset."""
        return cls(
            initial=np.asarray(reference["initial"], np.float64),
            transition=np.asarray(reference["transition"], np.float64),
            stop_prob=float(reference["stop_prob"]),
            max_length=int(reference["max_length"]),
        )


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw from each row of ``probs`` [n, V] by inverting the CDF."""
    cdf = np.cumsum(probs, axis=-1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u >= cdf).sum(-1), probs.shape[-1] - 1)


def make_model(
    n_components: int,
    n_words: int,
    max_length: int,
    stop_prob: float,
    concentration: float,
    seed: int,
) -> MarkovMixtureModel:
    """Draws the chains' initial and transition probabilities from Dirichlet(concentration).

    Raises:
        ValueError: On a size below 1, a stop probability outside (0, 1) or a concentration
            <= 0.
    """
    if min(n_components, n_words, max_length) < 1:
        raise ValueError(
            f"n_components, n_words and max_length must be >= 1, got {n_components}, "
            f"{n_words}, {max_length}"
        )
    if not 0.0 < stop_prob < 1.0:
        raise ValueError(f"stop_prob must be in (0, 1), got {stop_prob}")
    if concentration <= 0:
        raise ValueError(f"concentration must be > 0, got {concentration}")
    rng = np.random.default_rng(seed)
    alpha = np.full(n_words, float(concentration))
    initial = rng.dirichlet(alpha, size=n_components)
    transition = rng.dirichlet(alpha, size=(n_components, n_words))
    # Dirichlet draws with a small concentration can underflow to exact zeros; keep every
    # probability positive so that log p is finite for every sentence.
    initial = (initial + 1e-6) / (initial + 1e-6).sum(-1, keepdims=True)
    transition = (transition + 1e-6) / (transition + 1e-6).sum(-1, keepdims=True)
    return MarkovMixtureModel(initial, transition, float(stop_prob), int(max_length))


def build_markov_mixture(
    data_seed: int,
    n_components: int = 4,
    n_words: int = 10,
    max_length: int = 12,
    stop_prob: float = 0.15,
    concentration: float = 0.2,
    n_train: int = 3000,
    n_valid: int = 500,
    n_test: int = 1000,
) -> PreparedData:
    """Samples train/valid/test sentences from a mixture of chains drawn from ``data_seed``.

    Args:
        data_seed: Seed of the chains and of the sentences.
        n_components: K, the number of chains.
        n_words: V, the number of words.
        max_length: L_max, the most words per sentence (rows have L_max + 1 ids).
        stop_prob: s, the probability of ending after each word.
        concentration: Dirichlet concentration of the chains' probabilities.
        n_train: Number of training sentences.
        n_valid: Number of validation sentences.
        n_test: Number of test sentences.

    Returns:
        Token data (int32 [n, L_max + 1]) with the chains in ``reference`` (and the chain
        of each test sentence, ``test_component``).
    """
    model = make_model(n_components, n_words, max_length, stop_prob, concentration, data_seed)
    rng = np.random.default_rng([data_seed, 1])
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    splits, chains = {}, {}
    for name, size in sizes.items():
        if size < 1:
            raise ValueError(f"n_{name} must be >= 1, got {size}")
        splits[name], chains[name] = model.sample(size, rng)
    vocabulary = SPECIAL_TOKENS + tuple(f"w{v}" for v in range(n_words))
    return PreparedData(
        name="markov_mixture",
        kind="tokens",
        **splits,
        reference={
            "initial": model.initial,
            "transition": model.transition,
            "stop_prob": np.asarray(model.stop_prob),
            "max_length": np.asarray(model.max_length),
            "test_component": chains["test"],
        },
        options={
            "data_seed": data_seed,
            "n_components": n_components,
            "n_words": n_words,
            "max_length": max_length,
            "stop_prob": stop_prob,
            "concentration": concentration,
            **{f"n_{name}": size for name, size in sizes.items()},
        },
        vocabulary=vocabulary,
    )


def markov_mixture_reference(data: PreparedData, latent_dim: int) -> dict[str, float]:
    """Exact answers on the test split.

    Returns:
        ``exact_nll``: -mean_n log p(x_n) over test sentences (the true model's NLL, an
        unbiased estimate of the entropy H(x); no model beats it in expectation) and
        ``exact_nll_se``, its standard error over sentences; ``exact_nll_per_token`` and
        ``exact_perplexity`` (tokens = words + EOS); ``component_entropy`` H(c) = log K,
        the bound on the chain information; ``component_information`` I(x; c) =
        H(c) - mean_n H(c | x_n) on the test sentences, the information about the chain a
        code can usefully carry.
    """
    del latent_dim
    model = MarkovMixtureModel.from_reference(data.reference)
    nll = -model.log_prob(data.test)
    tokens = sequence_mask(data.test).sum()
    posterior = model.component_posterior(data.test)
    conditional_entropy = -np.sum(posterior * np.log(np.maximum(posterior, 1e-300)), axis=-1)
    return {
        "exact_nll": float(nll.mean()),
        "exact_nll_se": float(nll.std(ddof=1) / np.sqrt(len(nll))),
        "exact_nll_per_token": float(nll.sum() / tokens),
        "exact_perplexity": float(np.exp(nll.sum() / tokens)),
        "component_entropy": model.component_entropy(),
        "component_information": float(model.component_entropy() - conditional_entropy.mean()),
    }
