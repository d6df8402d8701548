//! Energy-based models. For now the Bernoulli–Bernoulli [`Rbm`].

pub mod rbm;

pub use rbm::Rbm;
