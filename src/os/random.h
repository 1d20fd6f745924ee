// Cryptographically secure randomness from the kernel (getrandom(2)).
#pragma once

#include <string>

namespace lockstep::os {

// `n` random bytes. Aborts if the kernel cannot supply them: continuing without
// randomness would mint guessable tokens.
std::string RandomBytes(size_t n);
// 2*n lowercase hex characters from n random bytes.
std::string RandomHex(size_t n);

}  // namespace lockstep::os
