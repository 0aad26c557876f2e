"""Batched OMP on the CPU, compiled with numba.

Why by hand: scikit-learn's ``orthogonal_mp`` solves one target at a time from Python, and the
batched torch version (:func:`tokkit.transplant.omp.omp`, used on a GPU) is bound by memory
traffic on the CPU (one pass over every target's candidate block per step: about 0.4 GFLOP/s
here). This kernel keeps one target's candidate block in cache for all of its steps, updates a
Cholesky factor of the chosen atoms' Gram matrix one row per step (as scikit-learn's
``_cholesky_omp`` does), and runs the targets in parallel (numba ``prange``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=False)
def _one(x, C, k, atoms_out, coefs_out):
    M = C.shape[0]
    cx = np.dot(C, x)
    corr = cx.copy()
    taken = np.zeros(M, dtype=np.bool_)
    gram = np.zeros((M, k))  # <candidate m, chosen atom t>
    L = np.zeros((k, k))
    chosen = np.zeros(k, dtype=np.int64)
    c = np.zeros(k)
    w = np.zeros(k)
    y = np.zeros(k)
    n = 0  # atoms chosen so far
    while n < k:
        best, j = -1.0, -1
        for m in range(M):
            if not taken[m] and abs(corr[m]) > best:
                best = abs(corr[m])
                j = m
        if j < 0 or best <= 1e-12:
            break
        taken[j] = True
        gram[:, n] = np.dot(C, C[j])
        # Cholesky row: L[n, :n] = solve(L[:n, :n], G[chosen, j]); L[n, n] = sqrt(G_jj - |w|^2)
        for a in range(n):
            s = gram[chosen[a], n]
            for b in range(a):
                s -= L[a, b] * w[b]
            w[a] = s / L[a, a]
        d2 = gram[j, n]
        for a in range(n):
            d2 -= w[a] * w[a]
        if d2 <= 1e-10 * max(gram[j, n], 1e-30):
            continue  # linearly dependent on the chosen atoms: skip it
        for a in range(n):
            L[n, a] = w[a]
        L[n, n] = np.sqrt(d2)
        chosen[n] = j
        n += 1
        # solve L L^T c = cx[chosen]
        for a in range(n):
            s = cx[chosen[a]]
            for b in range(a):
                s -= L[a, b] * y[b]
            y[a] = s / L[a, a]
        for a in range(n - 1, -1, -1):
            s = y[a]
            for b in range(a + 1, n):
                s -= L[b, a] * c[b]
            c[a] = s / L[a, a]
        for m in range(M):
            s = cx[m]
            for a in range(n):
                s -= gram[m, a] * c[a]
            corr[m] = s
    for a in range(n):
        atoms_out[a] = chosen[a]
        coefs_out[a] = c[a]
    return n


@njit(parallel=True, cache=True)
def omp_batch(X, dictionary, cand, k):
    """X [N, D] float64, dictionary [S, D] float64, cand [N, M] int64 -> (atoms [N, k] indices
    into the dictionary, -1 where fewer were chosen; coefficients [N, k])."""
    N = X.shape[0]
    M = cand.shape[1]
    D = X.shape[1]
    atoms = -np.ones((N, k), dtype=np.int64)
    coefs = np.zeros((N, k))
    for i in prange(N):
        C = np.empty((M, D))
        for m in range(M):
            C[m, :] = dictionary[cand[i, m], :]
        local = -np.ones(k, dtype=np.int64)
        n = _one(X[i], C, k, local, coefs[i])
        for a in range(n):
            atoms[i, a] = cand[i, local[a]]
    return atoms, coefs
