//! Capstan
