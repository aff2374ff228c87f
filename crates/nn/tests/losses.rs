//! Losses against PyTorch's numbers, gradient checks of every option, and errors.

mod common;
#[path = "../../tape/tests/nonfinite/fixture.rs"]
mod nonfinite;

use common::{assert_rel_close, check_both, randn};
use tapegrad_nn::{
    BceWithLogitsOptions, CrossEntropyOptions, KlReduction, NllLossOptions, NnError, Reduction,
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, cross_entropy_with,
    huber_loss, kl_div, l1_loss, l2_regularization, mse_loss, nll_loss, smooth_l1_loss,
};
use tapegrad_tape::{Tensor, Var};

const TARGETS: [usize; 4] = [1, 0, 4, 2];
const CLASS_WEIGHT: [f64; 5] = [0.5, 1.0, 2.0, 1.5, 0.25];
/// Output weights r for the `none` reductions: the gradient given is of Σ r_n ℓ_n.
const OUTPUT_WEIGHTS: [f64; 4] = [1.0, 2.0, 3.0, 4.0];

// Produced with PyTorch 2.15 (float64) by:
//
// import torch, torch.nn.functional as F
// torch.manual_seed(7)
// z0 = (torch.randn(4, 5, dtype=torch.float64) * 2).tolist()
// targets = torch.tensor([1, 0, 4, 2])
// w = torch.tensor([0.5, 1.0, 2.0, 1.5, 0.25], dtype=torch.float64)
// r = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
// for name, kw in cases:
//     z = torch.tensor(z0, dtype=torch.float64, requires_grad=True)
//     loss = F.cross_entropy(z, targets, **kw)
//     out = (loss * r).sum() if loss.dim() == 1 else loss
//     out.backward()
//     print(name, loss.reshape(-1).tolist(), z.grad.reshape(-1).tolist())
const LOGITS: [f64; 20] = [
    0.13253507932899886,
    0.09398311048784817,
    3.673077260058803,
    2.735380797073556,
    2.914909875865452,
    3.864429720020586,
    -2.8836279855045848,
    1.4555206957433953,
    -2.6262993156585783,
    -0.6560003522734006,
    -2.7043371763011668,
    3.5902149678917317,
    3.484210062324127,
    -1.047922041424772,
    -0.5677579804389583,
    0.9051510042020591,
    -3.335458268465753,
    -3.1740645938616714,
    4.06052665739244,
    1.3193046528925003,
];
#[rustfmt::skip]
const CASES: [(&str, &[f64], &[f64]); 10] = [
// mean: {}
("mean", &[4.119894897738099], &[0.003781733717573584, -0.2463612850227815, 0.13041539999670934, 0.051061371788993906, 0.061102779519504685, -0.023445712275278308, 0.0002657835273656436, 0.020370251420153737, 0.0003437830673945228, 0.0024658942603644216, 0.0002395870606309247, 0.129763521160911, 0.1167119368135445, 0.0012555537579159936, -0.24797059879300243, 0.009613070787193482, 0.00013841684096656801, -0.2498373397948969, 0.2255404147993686, 0.014545437367368259]),
// sum: {'reduction': 'sum'}
("sum", &[16.479579590952397], &[0.015126934870294336, -0.985445140091126, 0.5216615999868374, 0.20424548715597562, 0.24441111807801874, -0.09378284910111323, 0.0010631341094625745, 0.08148100568061495, 0.0013751322695780912, 0.009863577041457686, 0.0009583482425236987, 0.519054084643644, 0.466847747254178, 0.005022215031663974, -0.9918823951720097, 0.03845228314877393, 0.0005536673638662721, -0.9993493591795876, 0.9021616591974744, 0.058181749469473035]),
// none: {'reduction': 'none'}
("none", &[4.22983032677941, 0.09847632075418818, 4.8137201402437055, 7.337552803175091], &[0.015126934870294336, -0.985445140091126, 0.5216615999868374, 0.20424548715597562, 0.24441111807801874, -0.18756569820222646, 0.002126268218925149, 0.1629620113612299, 0.0027502645391561825, 0.019727154082915373, 0.0028750447275710965, 1.557162253930932, 1.4005432417625339, 0.015066645094991924, -2.975647185516029, 0.1538091325950957, 0.0022146694554650882, -3.9973974367183502, 3.6086466367898975, 0.23272699787789214]),
// weight_mean: {'weight': w}
("weight_mean", &[5.3753611009513635], &[0.004033849298745156, -0.2627853706909669, 0.13910975999648997, 0.0544654632415935, 0.06517629815413833, -0.012504379880148431, 0.00014175121459500994, 0.01086413409074866, 0.00018335096927707883, 0.0013151436055276915, 6.388988283491324e-05, 0.034603605642909596, 0.03112318315027853, 0.00033481433544426493, -0.06612549301146732, 0.02050788434601276, 0.0002952892607286784, -0.53298632489578, 0.48115288490531966, 0.03103026638371895]),
// smoothing_mean: {'label_smoothing': 0.2}
("smoothing_mean", &[4.018386648854964], &[-0.006218266282426416, -0.20636128502278153, 0.12041539999670937, 0.04106137178899392, 0.0511027795195047, 0.01655428772472172, -0.009734216472634356, 0.010370251420153742, -0.009656216932605478, -0.007534105739635578, -0.009760412939369075, 0.119763521160911, 0.1067119368135445, -0.008744446242084007, -0.20797059879300245, -0.00038692921280651833, -0.009861583159033432, -0.2098373397948969, 0.21554041479936858, 0.0045454373673682585]),
// weight_smoothing_mean: {'weight': w, 'label_smoothing': 0.2}
("weight_smoothing_mean", &[5.076590326264471], &[-0.0012591455416007256, -0.2200798910645433, 0.11916752426312152, 0.03901011787400943, 0.06316139446901305, 0.03541132321288562, -0.010493730184860755, -0.008079089742619965, -0.015776311817481965, -0.0010621914679228826, -0.005228553925484075, 0.04608324658770508, 0.029708687033123463, -0.015450904489871405, -0.05511247520547306, 0.013226301999808216, -0.010399429885707212, -0.4476859573640143, 0.4194433608393143, 0.025415724410598986]),
// weight_smoothing_sum: {'weight': w, 'label_smoothing': 0.2, 'reduction': 'sum'}
("weight_smoothing_sum", &[19.037213723491767], &[-0.004721795781002721, -0.8252995914920374, 0.44687821598670574, 0.1462879420275354, 0.23685522925879893, 0.13279246204832099, -0.039351488193227833, -0.030296586534824876, -0.059161169315557365, -0.003983218004710811, -0.019607077220565285, 0.17281217470389407, 0.11140757637421299, -0.05794089183701777, -0.206671782020524, 0.04959863249928082, -0.038997862071402045, -1.6788223401150537, 1.572912603147429, 0.09530896653974621]),
// ignore_weight_smoothing_mean: {'weight': w, 'label_smoothing': 0.2, 'ignore_index': 4}
("ignore_weight_smoothing_mean", &[4.995006685648494], &[-0.0013490845088579197, -0.23579988328343923, 0.12767949028191594, 0.04179655486501011, 0.06767292264537113, 0.03794070344237743, -0.011243282340922237, -0.008656167581378535, -0.016903191233016392, -0.0011380622870602315, 0.0, 0.0, 0.0, 0.0, 0.0, 0.014171037856937378, -0.011142246306114871, -0.47966352574715815, 0.4494036008992654, 0.027231133297070345]),
// ignore_smoothing_mean: {'label_smoothing': 0.3, 'ignore_index': 4}
("ignore_smoothing_mean", &[3.7974672738215403], &[-0.014957688376568554, -0.24848171336370864, 0.15388719999561248, 0.04808182905199188, 0.06147037269267292, 0.04873905029962899, -0.019645621963512477, 0.007160335226871652, -0.019541622576807305, -0.016712140986180773, 0.0, 0.0, 0.0, 0.0, 0.0, -0.0071825722837420254, -0.019815444212044578, -0.25311645305986247, 0.2807205530658248, -0.0006060835101756566]),
// ignore_weight_smoothing_none: {'weight': w, 'label_smoothing': 0.2, 'ignore_index': 4, 'reduction': 'none'}
("ignore_weight_smoothing_none", &[3.798336929855787, 0.9573536286869269, 0.0, 12.726832841227015], &[-0.004721795781002721, -0.8252995914920374, 0.44687821598670574, 0.1462879420275354, 0.23685522925879893, 0.26558492409664197, -0.07870297638645567, -0.06059317306964975, -0.11832233863111473, -0.007966436009421622, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1983945299971233, -0.15599144828560818, -6.715289360460215, 6.291650412589716, 0.38123586615898486]),
];

/// The options a case name stands for.
fn options(name: &str) -> CrossEntropyOptions<f64> {
    let mut opts = CrossEntropyOptions::default();
    if name.ends_with("_sum") || name == "sum" {
        opts.reduction = Reduction::Sum;
    }
    if name.ends_with("none") {
        opts.reduction = Reduction::None;
    }
    if name.contains("weight") {
        opts.weight = Some(Tensor::from_vec(CLASS_WEIGHT.to_vec(), &[5]).unwrap());
    }
    if name.contains("smoothing") {
        opts.label_smoothing = if name == "ignore_smoothing_mean" {
            0.3
        } else {
            0.2
        };
    }
    if name.contains("ignore") {
        opts.ignore_index = Some(4);
    }
    opts
}

/// The scalar whose gradient the reference gives: the loss, or Σ r_n ℓ_n.
fn scalar_of(loss: &Var<f64>) -> Var<f64> {
    if loss.ndim() == 0 {
        return loss.clone();
    }
    let r = Var::constant(Tensor::from_vec(OUTPUT_WEIGHTS.to_vec(), &[4]).unwrap());
    loss.mul(&r).unwrap().sum()
}

#[test]
fn cross_entropy_matches_pytorch_for_every_option() {
    for (name, loss_ref, grad_ref) in CASES {
        let z = Var::parameter(Tensor::from_vec(LOGITS.to_vec(), &[4, 5]).unwrap());
        let loss = cross_entropy_with(&z, &TARGETS, &options(name)).unwrap();
        assert_rel_close(
            &format!("{name} loss"),
            loss.value().data(),
            loss_ref,
            1e-12,
        );
        scalar_of(&loss).backward().unwrap();
        let grad = z.grad().unwrap();
        for (i, (&g, &e)) in grad.data().iter().zip(grad_ref).enumerate() {
            assert!(
                (g - e).abs() <= 1e-12 * e.abs() + 1e-16,
                "{name} grad[{i}]: got {g:e}, expected {e:e}"
            );
        }
    }
}

#[test]
fn cross_entropy_default_is_the_mean_option() {
    let z = Var::constant(Tensor::from_vec(LOGITS.to_vec(), &[4, 5]).unwrap());
    let a = cross_entropy(&z, &TARGETS).unwrap().item().unwrap();
    assert_rel_close("mean", &[a], CASES[0].1, 1e-12);
}

#[test]
fn cross_entropy_gradients_check_for_every_option() {
    let z = randn(&[3, 4], 11);
    let w = Tensor::from_vec(vec![0.5, 2.0, 1.0, 1.5], &[4]).unwrap();
    let targets = [2, 0, 3];
    let variants = [
        CrossEntropyOptions::default(),
        CrossEntropyOptions {
            reduction: Reduction::Sum,
            ..Default::default()
        },
        CrossEntropyOptions {
            reduction: Reduction::None,
            ..Default::default()
        },
        CrossEntropyOptions {
            weight: Some(w.clone()),
            ..Default::default()
        },
        CrossEntropyOptions {
            label_smoothing: 0.25,
            ..Default::default()
        },
        CrossEntropyOptions {
            ignore_index: Some(0),
            ..Default::default()
        },
        CrossEntropyOptions {
            reduction: Reduction::None,
            weight: Some(w.clone()),
            label_smoothing: 0.1,
            ignore_index: Some(3),
        },
        CrossEntropyOptions {
            reduction: Reduction::Mean,
            weight: Some(w),
            label_smoothing: 0.4,
            ignore_index: Some(0),
        },
    ];
    for (i, opts) in variants.iter().enumerate() {
        check_both(
            &format!("cross_entropy variant {i}"),
            |v| cross_entropy_with(&v[0], &targets, opts),
            std::slice::from_ref(&z),
        );
    }
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    // log Σ exp would overflow in f64 without the max subtracted.
    let z =
        Var::parameter(Tensor::from_vec(vec![1000.0f64, 0.0, -1000.0, 800.0], &[2, 2]).unwrap());
    let loss = cross_entropy(&z, &[1, 0]).unwrap();
    let expected = (1000.0 + 1800.0) / 2.0; // −log p = 1000 and 1800, up to e⁻¹⁰⁰⁰
    assert_rel_close("loss", &[loss.item().unwrap()], &[expected], 1e-15);
    loss.backward().unwrap();
    assert_eq!(z.grad().unwrap().data(), &[0.5, -0.5, -0.5, 0.5]);
    // Second derivatives stay finite too (softmax is rebuilt stably in the rule).
    gradcheck_large();
}

fn gradcheck_large() {
    let z = Tensor::from_vec(vec![60.0, 61.0, 59.5, -70.0, -71.0, -69.0], &[2, 3]).unwrap();
    check_both("large logits", |v| cross_entropy(&v[0], &[0, 2]), &[z]);
}

#[test]
fn out_of_range_target_names_index_and_classes() {
    let z = Var::constant(Tensor::<f64>::zeros(&[3, 4]));
    let err = cross_entropy(&z, &[0, 1, 4]).unwrap_err();
    assert!(matches!(
        err,
        NnError::TargetOutOfRange {
            position: 2,
            target: 4,
            classes: 4,
            ..
        }
    ));
    assert!(err.to_string().contains("target 4 at position 2"), "{err}");
    // The ignored index may lie outside 0..K, as PyTorch's -100 does.
    let opts = CrossEntropyOptions {
        ignore_index: Some(255),
        ..Default::default()
    };
    let loss = cross_entropy_with(&z, &[0, 255, 3], &opts).unwrap();
    assert_rel_close("ignored", &[loss.item().unwrap()], &[4f64.ln()], 1e-15);
}

#[test]
fn invalid_shapes_and_options_are_errors() {
    let z = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
    assert!(matches!(
        cross_entropy(&z, &[0]),
        Err(NnError::InvalidArgument {
            name: "targets",
            ..
        })
    ));
    let flat = Var::constant(Tensor::<f64>::zeros(&[3]));
    assert!(matches!(
        cross_entropy(&flat, &[0, 1, 2]),
        Err(NnError::Tape(_))
    ));
    let bad_weight = CrossEntropyOptions {
        weight: Some(Tensor::ones(&[2])),
        ..Default::default()
    };
    assert!(matches!(
        cross_entropy_with(&z, &[0, 1], &bad_weight),
        Err(NnError::InvalidArgument { name: "weight", .. })
    ));
    let bad_eps = CrossEntropyOptions {
        label_smoothing: 1.5,
        ..Default::default()
    };
    assert!(matches!(
        cross_entropy_with(&z, &[0, 1], &bad_eps),
        Err(NnError::InvalidArgument {
            name: "label_smoothing",
            ..
        })
    ));
}

#[test]
fn cross_entropy_f32_agrees_with_f64() {
    let z64 = Tensor::from_vec(LOGITS.to_vec(), &[4, 5]).unwrap();
    let z = Var::parameter(z64.to_f32());
    let loss = cross_entropy(&z, &TARGETS).unwrap();
    let got = loss.item().unwrap() as f64;
    assert!((got - CASES[0].1[0]).abs() < 1e-6 * CASES[0].1[0], "{got}");
}

// Produced with PyTorch 2.15 (float64) by:
//
// torch.manual_seed(3)
// lp0 = torch.log_softmax(torch.randn(3, 4, dtype=torch.float64), 1).tolist()
// t = torch.tensor([2, 0, 3]); w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
// print(F.nll_loss(torch.tensor(lp0), t, **kw))
const LOG_PROBS: [f64; 12] = [
    -0.8177509886900186,
    -1.4461936735072656,
    -1.5320489717604904,
    -2.234745074515727,
    -1.6497843458005303,
    -3.064225975151274,
    -1.3584716989548271,
    -0.6848509463061314,
    -3.518313530866758,
    -1.1057024076998152,
    -1.561084269502028,
    -0.8452175113237971,
];
#[rustfmt::skip]
const NLL_CASES: [(&str, &[f64]); 4] = [
    ("weight_mean", &[1.2892040958517355]),
    ("ignore_mean", &[1.1886332415421437]),
    ("weight_ignore_sum", &[4.331924210506676]),
    ("weight_none", &[3.0640979435209807, 0.8248921729002652, 1.2678262669856957]),
];

fn nll_options(name: &str) -> NllLossOptions<f64> {
    NllLossOptions {
        reduction: match name {
            n if n.ends_with("sum") => Reduction::Sum,
            n if n.ends_with("none") => Reduction::None,
            _ => Reduction::Mean,
        },
        weight: name
            .contains("weight")
            .then(|| Tensor::from_vec(vec![0.5, 1.0, 2.0, 1.5], &[4]).unwrap()),
        ignore_index: name.contains("ignore").then_some(0),
    }
}

#[test]
fn nll_loss_matches_pytorch() {
    let x = Var::constant(Tensor::from_vec(LOG_PROBS.to_vec(), &[3, 4]).unwrap());
    for (name, expected) in NLL_CASES {
        let loss = nll_loss(&x, &[2, 0, 3], &nll_options(name)).unwrap();
        assert_rel_close(name, loss.value().data(), expected, 1e-12);
    }
}

#[test]
fn nll_loss_gradients_check() {
    let x = randn(&[3, 4], 5);
    for name in [
        "weight_mean",
        "ignore_mean",
        "weight_ignore_sum",
        "weight_none",
    ] {
        let opts = nll_options(name);
        check_both(
            name,
            |v| nll_loss(&v[0], &[2, 0, 3], &opts),
            std::slice::from_ref(&x),
        );
    }
}

#[test]
fn nll_of_log_softmax_equals_cross_entropy() {
    let z = Var::constant(Tensor::from_vec(LOGITS.to_vec(), &[4, 5]).unwrap());
    let logp = z.with_value(|t| {
        let mut out = t.clone();
        for row in out.data_mut().chunks_exact_mut(5) {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
            row.iter_mut().for_each(|x| *x -= lse);
        }
        out
    });
    let nll = nll_loss(&Var::constant(logp), &TARGETS, &NllLossOptions::default()).unwrap();
    assert_rel_close("nll", &[nll.item().unwrap()], CASES[0].1, 1e-13);
}

#[test]
fn mse_loss_reductions_and_gradient() {
    let pred = Tensor::from_vec(vec![1.0, -2.0, 0.5, 3.0], &[2, 2]).unwrap();
    let target = Tensor::from_vec(vec![0.0, 1.0, 0.5, 1.0], &[2, 2]).unwrap();
    let p = Var::constant(pred.clone());
    let t = Var::constant(target.clone());
    let squares = [1.0, 9.0, 0.0, 4.0];
    assert_eq!(
        mse_loss(&p, &t, Reduction::None).unwrap().value().data(),
        &squares
    );
    assert_eq!(
        mse_loss(&p, &t, Reduction::Sum).unwrap().item().unwrap(),
        14.0
    );
    assert_eq!(
        mse_loss(&p, &t, Reduction::Mean).unwrap().item().unwrap(),
        3.5
    );
    for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
        check_both(
            "mse",
            |v| mse_loss(&v[0], &v[1], reduction),
            &[pred.clone(), target.clone()],
        );
    }
    let wrong = Var::constant(Tensor::<f64>::zeros(&[4]));
    assert!(matches!(
        mse_loss(&p, &wrong, Reduction::Mean),
        Err(NnError::Tape(_))
    ));
}

#[test]
fn l2_regularization_is_half_squared_norm_over_c() {
    let a = Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap();
    let b = Tensor::from_vec(vec![3.0, 0.5, -1.0, 2.0], &[2, 2]).unwrap();
    let c = 4.0;
    let vars = [Var::constant(a.clone()), Var::constant(b.clone())];
    let value = l2_regularization(&vars, c).unwrap().item().unwrap();
    let norm2 = 1.0 + 4.0 + 9.0 + 0.25 + 1.0 + 4.0;
    assert_eq!(value, norm2 / (2.0 * c));
    check_both("l2", |v| l2_regularization(v, c), &[a, b]);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            l2_regularization(&vars, bad),
            Err(NnError::InvalidArgument { name: "C", .. })
        ));
    }
}

// NaN and ±∞ logits, log-probabilities and predictions, against PyTorch
// (the `loss` family of fixtures/nonfinite_reference.json).

/// The `reduction` argument of a fixture case (PyTorch's default, the mean).
fn reduction_arg(a: &nonfinite::Args<'_>) -> Reduction {
    match a.opt_str("reduction") {
        None | Some("mean") => Reduction::Mean,
        Some("sum") => Reduction::Sum,
        Some("none") => Reduction::None,
        Some(other) => panic!("unknown reduction {other:?}"),
    }
}

fn class_weight_arg(a: &nonfinite::Args<'_>) -> Option<Tensor<f64>> {
    a.opt_floats("weight").map(|w| {
        let k = w.len();
        Tensor::from_vec(w, &[k]).unwrap()
    })
}

fn loss_dispatch(
    op: &str,
    x: &[Var<f64>],
    a: &nonfinite::Args<'_>,
) -> Option<Result<Var<f64>, NnError>> {
    let targets = || a.indices("targets").0;
    Some(match op {
        "cross_entropy" => {
            let opts = CrossEntropyOptions {
                reduction: reduction_arg(a),
                weight: class_weight_arg(a),
                label_smoothing: a.opt_f64("label_smoothing").unwrap_or(0.0),
                ignore_index: a.opt_usize("ignore_index"),
            };
            cross_entropy_with(&x[0], &targets(), &opts)
        }
        "nll_loss" => {
            let opts = NllLossOptions {
                reduction: reduction_arg(a),
                weight: class_weight_arg(a),
                ignore_index: a.opt_usize("ignore_index"),
            };
            nll_loss(&x[0], &targets(), &opts)
        }
        "mse_loss" => mse_loss(&x[0], &x[1], reduction_arg(a)),
        "l1_loss" => l1_loss(&x[0], &x[1], reduction_arg(a)),
        "bce" => {
            let weight = a.has("weight").then(|| a.tensor("weight"));
            binary_cross_entropy(&x[0], &x[1], weight.as_ref(), reduction_arg(a))
        }
        "bce_with_logits" => {
            let opts = BceWithLogitsOptions {
                weight: a.has("weight").then(|| a.tensor("weight")),
                pos_weight: a.has("pos_weight").then(|| a.tensor("pos_weight")),
                reduction: reduction_arg(a),
            };
            binary_cross_entropy_with_logits(&x[0], &x[1], &opts)
        }
        "smooth_l1_loss" => smooth_l1_loss(&x[0], &x[1], a.f64("beta"), reduction_arg(a)),
        "huber_loss" => huber_loss(&x[0], &x[1], a.f64("delta"), reduction_arg(a)),
        "kl_div" => {
            let reduction = match a.opt_str("reduction") {
                Some("batchmean") => KlReduction::BatchMean,
                Some("sum") => KlReduction::Sum,
                Some("none") => KlReduction::None,
                _ => KlReduction::Mean,
            };
            kl_div(&x[0], &x[1], reduction, a.bool("log_target"))
        }
        _ => return None,
    })
}

#[test]
fn losses_match_pytorch_on_nan_and_infinity() {
    nonfinite::check_family("loss", loss_dispatch);
}

#[test]
fn anomaly_mode_names_the_loss_that_meets_a_nan_logit() {
    use tapegrad_tape::{AnomalyStage, TapeError, detect_anomaly};
    let z = Var::parameter(Tensor::from_vec(vec![0.0, f64::NAN, 1.0, 2.0], &[2, 2]).unwrap());
    let err = detect_anomaly(|| {
        cross_entropy(&z, &[0, 1])?
            .backward()
            .map_err(NnError::from)
    })
    .unwrap_err();
    assert!(
        matches!(
            &err,
            NnError::Tape(TapeError::Anomaly { op: "cross_entropy", stage: AnomalyStage::Forward, input_shapes, .. })
                if input_shapes.len() == 1 && input_shapes[0].as_slice() == [2, 2]
        ),
        "{err}"
    );
    // Off, the NaN loss is returned as a value.
    assert!(cross_entropy(&z, &[0, 1]).unwrap().item().unwrap().is_nan());
}

/// One NaN input reaches the loss through linear → relu (relu(NaN) is NaN, as
/// PyTorch), instead of being zeroed into a finite loss and NaN weights later.
#[test]
fn a_nan_input_makes_the_loss_nan_through_relu() {
    let x = Var::constant(Tensor::from_vec(vec![1.0, f64::NAN, 0.5, -1.0], &[2, 2]).unwrap());
    let w = Var::parameter(Tensor::from_vec(vec![1.0, -1.0, -2.0, 0.5], &[2, 2]).unwrap());
    let b = Var::parameter(Tensor::from_vec(vec![0.0, 0.1], &[2]).unwrap());
    let logits = x.linear(&w, Some(&b)).unwrap().relu();
    let loss = cross_entropy(&logits, &[0, 1]).unwrap();
    assert!(loss.item().unwrap().is_nan());
    loss.backward().unwrap();
    assert!(w.grad().unwrap().data().iter().any(|g| g.is_nan()));
}

/// The regression losses and the KL divergence, first and second order in
/// both arguments (away from the kinks of L1, Smooth L1 and Huber).
#[test]
fn regression_losses_and_kl_div_pass_gradcheck_and_gradgradcheck() {
    let pred = Tensor::from_vec(vec![-2.4, -0.3, 0.25, 1.9, 0.7, -1.2], &[2, 3]).unwrap();
    let target = Tensor::from_vec(vec![0.1, 0.2, -0.5, 0.3, 2.9, -0.6], &[2, 3]).unwrap();
    let both = [pred.clone(), target.clone()];
    for reduction in [Reduction::Mean, Reduction::Sum, Reduction::None] {
        check_both("l1_loss", |v| l1_loss(&v[0], &v[1], reduction), &both);
        check_both(
            "smooth_l1_loss",
            |v| smooth_l1_loss(&v[0], &v[1], 0.8, reduction),
            &both,
        );
        check_both(
            "huber_loss",
            |v| huber_loss(&v[0], &v[1], 1.3, reduction),
            &both,
        );
    }
    let log_p = Tensor::from_vec(vec![-1.2, -0.4, -2.3, -0.7, -1.1, -1.6], &[2, 3]).unwrap();
    let q = Tensor::from_vec(vec![0.2, 0.5, 0.3, 0.6, 0.1, 0.3], &[2, 3]).unwrap();
    for reduction in [
        KlReduction::BatchMean,
        KlReduction::Sum,
        KlReduction::Mean,
        KlReduction::None,
    ] {
        for log_target in [false, true] {
            let target = if log_target {
                q.map(f64::ln)
            } else {
                q.clone()
            };
            check_both(
                "kl_div",
                |v| kl_div(&v[0], &v[1], reduction, log_target),
                &[log_p.clone(), target],
            );
        }
    }
}

#[test]
fn bad_regression_arguments_are_refused() {
    let x = Var::constant(Tensor::<f64>::zeros(&[3]));
    let y = Var::constant(Tensor::<f64>::zeros(&[4]));
    assert!(matches!(
        l1_loss(&x, &y, Reduction::Mean),
        Err(NnError::Tape(_))
    ));
    assert!(matches!(
        kl_div(&x, &y, KlReduction::Sum, false),
        Err(NnError::Tape(_))
    ));
    let msg = smooth_l1_loss(&x, &x, -0.5, Reduction::Mean)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("beta") && msg.contains(">= 0"), "{msg}");
    for delta in [0.0, -1.0, f64::NAN] {
        let msg = huber_loss(&x, &x, delta, Reduction::Mean)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("delta"), "{msg}");
    }
}

/// BCE on logits, first and second order in the logits and the targets,
/// with and without pos_weight and weights.
#[test]
fn bce_with_logits_passes_gradcheck_and_gradgradcheck() {
    let x = Tensor::from_vec(vec![-2.4, -0.3, 0.25, 1.9, 0.7, -1.2], &[2, 3]).unwrap();
    let y = Tensor::from_vec(vec![0.1, 0.9, 0.5, 0.3, 1.0, 0.0], &[2, 3]).unwrap();
    let options = [
        BceWithLogitsOptions::default(),
        BceWithLogitsOptions {
            pos_weight: Some(Tensor::from_vec(vec![0.5, 2.0, 3.0], &[3]).unwrap()),
            reduction: Reduction::Sum,
            ..Default::default()
        },
        BceWithLogitsOptions {
            weight: Some(Tensor::from_vec(vec![2.0, 0.5], &[2, 1]).unwrap()),
            pos_weight: Some(Tensor::from_vec(vec![1.5, 1.5, 1.5], &[3]).unwrap()),
            reduction: Reduction::None,
        },
    ];
    for opts in options {
        check_both(
            "bce_with_logits",
            |v| binary_cross_entropy_with_logits(&v[0], &v[1], &opts),
            &[x.clone(), y.clone()],
        );
    }
    let short = Var::constant(Tensor::<f64>::zeros(&[2, 2]));
    let err = binary_cross_entropy_with_logits(&Var::constant(x), &short, &Default::default());
    assert!(matches!(err, Err(NnError::Tape(_))));
}

/// BCE on probabilities: first and second order away from 0 and 1, and
/// PyTorch's refusals of values outside [0, 1].
#[test]
fn bce_passes_gradcheck_and_refuses_values_outside_the_unit_interval() {
    let p = Tensor::from_vec(vec![0.05, 0.2, 0.45, 0.7, 0.95, 0.6], &[2, 3]).unwrap();
    let y = Tensor::from_vec(vec![0.05, 0.9, 0.3, 0.8, 0.5, 0.1], &[2, 3]).unwrap();
    let w = Tensor::from_vec(vec![2.0, 0.5, 1.0], &[3]).unwrap();
    for (weight, reduction) in [(None, Reduction::Mean), (Some(&w), Reduction::Sum)] {
        check_both(
            "binary_cross_entropy",
            |v| binary_cross_entropy(&v[0], &v[1], weight, reduction),
            &[p.clone(), y.clone()],
        );
    }
    let ok = Var::constant(p);
    for (bad, name) in [(1.5, "input"), (f64::NAN, "input"), (-0.1, "target")] {
        let t = Var::constant(Tensor::full(&[2, 3], bad));
        let (a, b) = if name == "input" {
            (&t, &ok)
        } else {
            (&ok, &t)
        };
        let msg = binary_cross_entropy(a, b, None, Reduction::Mean)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains(&format!("all elements of {name} should be between 0 and 1")),
            "{msg}"
        );
    }
}
