//! Shape ops on the tape: transpose, permute, concat, stack, narrow, index_select, gather.
