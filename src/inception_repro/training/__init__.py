"""The paper's training recipe (§8) as a LightningModule, its callbacks and the run record."""
