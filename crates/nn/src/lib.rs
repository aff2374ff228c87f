//! Layers, losses and initialization on the tapegrad tape.
