"""A public stand-in for the paper's speech corpus: sentences synthesized by libespeak-ng from many speakers,
labelled per 10 ms frame with phone states from the synthesizer's own phoneme events (an exact alignment)."""
