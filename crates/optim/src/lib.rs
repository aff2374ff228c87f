//! Optimizers (SGD, AdaGrad, RMSprop, Adam, AdamW), schedules and clipping.
