"""Phantom patients for the training scripts of the demo models (tools/train_*.py)."""
import os
import subprocess


def phantom_patients(medport, root, sets):
    """Yield (folder, name) of every patient of the (seed, patients, "ROWSxCOLS") sets, each set made
    by one `medport phantom` run under root, patients in name order."""
    for seed, patients, size in sets:
        out = os.path.join(root, f"seed{seed}_{size}")
        subprocess.run([medport, "phantom", "-o", out, "--patients", str(patients), "--seed", str(seed), "--size", size],
                       check=True, stdout=subprocess.DEVNULL)
        for patient in sorted(os.listdir(out)):
            yield os.path.join(out, patient), patient
