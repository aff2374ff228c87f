//! Datasets and minibatch loading.
