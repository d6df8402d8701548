//! The linear read-outs of `crbm classify` and `dbn classify`: softmax
//! regression or a linear SVM on the features, with the SVM's cost chosen
//! on held-out training images when several are given.

use boltzmann::data::Dataset;
use boltzmann::train::softmax::{SoftmaxConfig, fit_softmax};
use boltzmann::train::svm::{SvmConfig, fit_linear_svm};
use clap::Args;

use crate::error::CliResult;

/// Options of the linear classifier.
#[derive(Args, Debug)]
pub(crate) struct ClassifierArgs {
    /// Linear classifier on the features: "softmax" (softmax regression by
    /// SGD) or "svm" (one-vs-rest linear SVM, squared hinge loss, dual
    /// coordinate descent as LIBLINEAR).
    #[arg(long, default_value = "softmax", value_parser = ["softmax", "svm"])]
    classifier: String,
    /// Epochs of softmax regression.
    #[arg(long, value_parser = crate::limits::epochs, default_value_t = 30)]
    epochs: usize,
    /// Initial learning rate of the softmax regression (decayed as
    /// lr / (1 + epoch / 10)).
    #[arg(long, allow_negative_numbers = true, default_value_t = 0.1)]
    lr: f32,
    /// L2 penalty on the softmax regression's weights.
    #[arg(long, allow_negative_numbers = true, default_value_t = 1e-4)]
    l2: f32,
    /// Cost C of the SVM. Several values (comma-separated): each is fitted
    /// on the first five sixths of the training images and scored on the
    /// last sixth, and the one with the lowest error there (the smaller on
    /// ties) is fitted again on all of them. The split follows the file's
    /// order: shuffle training data that is sorted by class first.
    #[arg(long, allow_negative_numbers = true, value_delimiter = ',', num_args = 1, default_value = "0.1")]
    svm_c: Vec<f32>,
    /// Passes over the data per class at most (SVM).
    #[arg(long, value_parser = crate::limits::epochs, default_value_t = 300)]
    svm_passes: usize,
}

/// A fitted read-out's errors, and for the SVM how its cost was chosen.
pub(crate) struct Scored {
    pub train_error: f64,
    pub test_error: f64,
    /// The SVM's cost (`None` for softmax regression).
    pub c: Option<f32>,
    /// `(C, validation error)` per candidate when several were given.
    pub validation: Vec<(f32, f64)>,
    /// The SVM's passes (the most of any class) and whether every class met
    /// its tolerance.
    pub passes: Option<(usize, bool)>,
}

impl ClassifierArgs {
    /// "softmax" or "svm".
    pub(crate) fn name(&self) -> &str {
        &self.classifier
    }

    /// The read-out in words: "softmax regression, 30 epochs" or "linear
    /// SVM, C = 0.1" (several: "C chosen among 0.03, 0.1").
    pub(crate) fn describe(&self) -> String {
        match (self.classifier.as_str(), &self.svm_c[..]) {
            ("softmax", _) => format!("softmax regression, {} epochs", self.epochs),
            (_, [c]) => format!("linear SVM, C = {c}"),
            (_, cs) => {
                let cs: Vec<String> = cs.iter().map(f32::to_string).collect();
                format!("linear SVM, C chosen among {} on the last sixth of the training data", cs.join(", "))
            }
        }
    }

    /// Checks the options before any work.
    pub(crate) fn check(&self) -> CliResult<()> {
        for (what, x) in [("--lr", self.lr), ("--l2", self.l2)] {
            if !x.is_finite() || x < 0.0 || (what == "--lr" && x == 0.0) {
                let need = if what == "--lr" { "positive" } else { "≥ 0" };
                return Err(format!("{what} {x}: must be finite and {need}").into());
            }
        }
        if let Some(c) = self.svm_c.iter().find(|c| !(c.is_finite() && **c > 0.0)) {
            return Err(format!("--svm-c {c}: must be finite and positive").into());
        }
        Ok(())
    }

    /// Fits the classifier to the labelled rows of `train` and scores it
    /// there and on `test` (rows of the same width) / `test_labels`.
    pub(crate) fn fit(
        &self,
        train: &Dataset,
        test: &[f32],
        test_labels: &[u8],
        seed: u64,
    ) -> CliResult<Scored> {
        let y = train.labels().ok_or("the data has no labels")?;
        if self.classifier == "softmax" {
            let config =
                SoftmaxConfig::default().epochs(self.epochs).seed(seed).learning_rate(self.lr).l2(self.l2);
            let m = fit_softmax(train, &config)?;
            return Ok(Scored {
                train_error: m.error_rate(train.features(), y)?,
                test_error: m.error_rate(test, test_labels)?,
                c: None,
                validation: Vec::new(),
                passes: None,
            });
        }
        let config = |c: f32| SvmConfig::default().c(c).max_passes(self.svm_passes).seed(seed);
        let mut validation = Vec::new();
        let c = if let [c] = self.svm_c[..] {
            c
        } else {
            let n = train.len();
            let cut = n - n / 6;
            if cut == n || cut == 0 {
                return Err(format!("{n} training images are too few to hold out a sixth for --svm-c").into());
            }
            let (fit_on, held) = (train.subset(0..cut)?, train.subset(cut..n)?);
            let held_labels = held.labels().ok_or("the data has no labels")?;
            for &c in &self.svm_c {
                let (m, _) = fit_linear_svm(&fit_on, &config(c))?;
                validation.push((c, m.error_rate(held.features(), held_labels)?));
            }
            let best = validation
                .iter()
                .fold(validation[0], |b, &v| if v.1 < b.1 || (v.1 == b.1 && v.0 < b.0) { v } else { b });
            best.0
        };
        let (m, report) = fit_linear_svm(train, &config(c))?;
        if report.converged.iter().any(|&c| !c) {
            note!(
                "SVM (C = {c}): some classes stopped at --svm-passes {} before meeting the tolerance",
                self.svm_passes
            );
        }
        Ok(Scored {
            train_error: m.error_rate(train.features(), y)?,
            test_error: m.error_rate(test, test_labels)?,
            c: Some(c),
            validation,
            passes: Some((
                report.passes.iter().copied().max().unwrap_or(0),
                report.converged.iter().all(|&c| c),
            )),
        })
    }
}
