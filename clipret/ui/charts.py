"""Plotly figures of the app: the latent map, the elbow curve, metric bars against the random baseline."""

from __future__ import annotations

import pandas as pd

SPACE_COLOURS = {"fused": "#ff4b6e", "raw": "#5b8def", "pca": "#f5a623", "random": "#8a8a8a"}
MODALITY_COLOUR = "#49c5b6"


def map_figure(frame: pd.DataFrame, color: str, title: str):
    """A scatter with one point per row of `frame` (views.map_frame); the clip id rides in customdata
    so a selected point names its clip."""
    import plotly.express as px

    order = sorted(frame[color].unique(), key=lambda v: (len(v), v))  # "2" before "10"
    fig = px.scatter(frame, x="x", y="y", color=color, hover_name="title", custom_data=["clip_id"],
                     hover_data={"genre": True, "cluster": True, "x": False, "y": False},
                     category_orders={color: order}, title=title,
                     color_discrete_sequence=px.colors.qualitative.Dark24)  # distinct hues for 9+ groups
    fig.update_traces(marker={"size": 9, "opacity": 0.85, "line": {"width": 0.5, "color": "white"}})
    fig.update_layout(height=560, legend_title_text=color, xaxis_title=None, yaxis_title=None,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def elbow_figure(inertias: pd.DataFrame, chosen_k: int | None):
    """Inertia against k, the chosen k marked."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=inertias["k"], y=inertias["inertia"], mode="lines+markers", name="inertia"))
    if chosen_k is not None and chosen_k in set(inertias["k"]):
        y = float(inertias.loc[inertias["k"] == chosen_k, "inertia"].iloc[0])
        fig.add_trace(go.Scatter(x=[chosen_k], y=[y], mode="markers", name=f"chosen k = {chosen_k}",
                                 marker={"size": 14, "symbol": "star"}))
    fig.update_layout(title="KMeans elbow on the fused space", xaxis_title="k (clusters)",
                      yaxis_title="inertia", height=360, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def metric_bars(table: pd.DataFrame, metric: str, random_value: float | None):
    """Bars of `metric` per space/modality (table: views.evaluation_frame without "random"), with the
    random baseline as a dashed line."""
    import plotly.graph_objects as go

    colours = [SPACE_COLOURS.get(s, MODALITY_COLOUR) for s in table.index]
    fig = go.Figure(go.Bar(x=list(table.index), y=table[metric], text=[f"{v:.2f}" for v in table[metric]],
                           marker_color=colours))
    if random_value is not None:
        fig.add_hline(y=random_value, line_dash="dash", annotation_text=f"random {random_value:.2f}")
    title = f"{metric.upper()} by space and by modality (leave-one-out, same genre = relevant)"
    fig.update_layout(title=title,
                      yaxis_title=metric, height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def per_genre_bars(table: pd.DataFrame, metric: str):
    """Grouped bars: genre on x, one bar per space (table: views.per_genre_frame)."""
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(name=s, x=list(table.index), y=table[s], marker_color=SPACE_COLOURS.get(s))
                     for s in table.columns])
    fig.update_layout(barmode="group", title=f"{metric.upper()} per genre", yaxis_title=metric, height=380,
                      margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
