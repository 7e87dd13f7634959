"""The runs behind each chapter's tables and figures, as lists of Configs: one place that the notebooks, ``python -m
seqrec reproduce`` and the GPU drain script share, so a figure never asks for a run the queue did not train.

    sasrec   the SASRec baseline page                           sasrec.py
    samrec   SAMRec: sharpness-aware SASRec, S3Rec, CL4SRec     samrec.py
    srma     SRMA: model augmentation, and the baseline zoo     srma.py

Each chapter module has ``chapter(profile, results_dir, datasets, seeds)``, every run in the order to train them;
common.py holds what they share (scopes, paired tests between two lists of runs, the progress table).
"""
from . import samrec, sasrec, srma

CHAPTERS = {"sasrec": sasrec.chapter, "samrec": samrec.chapter, "srma": srma.chapter}
# the datasets each chapter's paper uses (``reproduce``'s default)
CHAPTER_DATASETS = {"sasrec": sasrec.DATASETS, "samrec": samrec.DATASETS, "srma": srma.DATASETS}
